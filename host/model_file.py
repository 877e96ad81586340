"""Find, open and validate an isovox ONNX model in ONNX Runtime (torch-free).

`open_model` returns a `LoadedModel`: the ORT session, the parsed metadata, the provider that really
runs (from `session.get_providers()`, never from what was asked), and the state shapes read off the graph.
"""
from __future__ import annotations

import importlib.resources
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from isovox.core.errors import DeviceError, ModelError
from isovox.core.model_metadata import (
    INPUT_NAME, OUTPUT_KINDS, STATE_INPUT_PREFIX, STATE_OUTPUT_PREFIX, ModelMetadata,
)

DEVICES = ("auto", "cpu", "cuda")


def default_model_path() -> Path:
    """The model shipped inside the package (isovox/models/default.onnx)."""
    return Path(str(importlib.resources.files("isovox.models").joinpath("default.onnx")))


def resolve_model_path(model: str | os.PathLike) -> Path:
    """'default' → the shipped model; anything else is a path that must exist."""
    path = default_model_path() if str(model) == "default" else Path(model)
    if not path.is_file():
        if str(model) == "default":
            raise ModelError(f"the shipped default model is missing at {path}; reinstall isovox")
        raise ModelError(f"model file {str(path)!r} does not exist; pass an ONNX file made by `isovox export`")
    return path


@dataclass
class LoadedModel:
    session: "object"            # onnxruntime.InferenceSession
    metadata: ModelMetadata
    provider: str                # the execution provider that really runs the graph
    path: Path
    output_name: str
    state_input_names: list[str]
    state_output_names: list[str]
    state_shapes: list[tuple[int, int, int]]   # (channels, bins, context_frames), batch excluded


def _import_ort():
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # the CUDA provider's load failures are reported by us instead
    return ort


def available_providers() -> list[str]:
    return list(_import_ort().get_available_providers())


def _providers_for(device: str, ort) -> list[str]:
    if device not in DEVICES:
        raise DeviceError(f"device {device!r} is not one of {DEVICES}")
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        if device == "cuda":
            raise DeviceError("device 'cuda' was asked for but this onnxruntime has no CUDA provider; "
                              "install onnxruntime-gpu or use --device cpu")
        return ["CPUExecutionProvider"]
    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()
        except Exception:  # noqa: BLE001 - preload is best effort; the session tells the truth below
            pass
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def open_model(model: str | os.PathLike = "default", device: str = "auto",
               intra_op_threads: int = 0) -> LoadedModel:
    """Open `model` on `device` ('auto' = CUDA if it really works, else CPU), validate it, return it.

    `intra_op_threads` 0 lets ONNX Runtime choose; 1 is best for a real-time worker (no spinning)."""
    ort = _import_ort()
    path = resolve_model_path(model)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    if intra_op_threads == 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = _providers_for(device, ort)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - ORT raises several types for a bad file
        raise ModelError(f"{path} is not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
    provider = session.get_providers()[0]
    if providers[0] == "CUDAExecutionProvider" and provider != "CUDAExecutionProvider":
        if device == "cuda":
            raise DeviceError("device 'cuda' was asked for but the CUDA provider failed to load "
                              "(missing CUDA/cuDNN libraries?); use --device cpu")
        warnings.warn("the CUDA provider failed to load; running on CPU", RuntimeWarning, stacklevel=2)
    metadata = ModelMetadata.from_properties(session.get_modelmeta().custom_metadata_map, source=str(path))
    return _validated(session, metadata, provider, path)


def _validated(session, metadata: ModelMetadata, provider: str, path: Path) -> LoadedModel:
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if INPUT_NAME not in inputs:
        raise ModelError(f"{path}: no input named {INPUT_NAME!r} (inputs: {sorted(inputs)})")
    shape = inputs[INPUT_NAME].shape
    if len(shape) != 4 or shape[1] != 1 or shape[2] != metadata.stft.model_bins:
        raise ModelError(f"{path}: input {INPUT_NAME!r} has shape {shape}, expected "
                         f"[batch, 1, {metadata.stft.model_bins}, frames]")
    output_name = metadata.output_kind
    if output_name not in outputs or output_name not in OUTPUT_KINDS:
        raise ModelError(f"{path}: no output named {output_name!r} (outputs: {sorted(outputs)})")
    state_in = [f"{STATE_INPUT_PREFIX}{i}" for i in range(metadata.state_count)]
    state_out = [f"{STATE_OUTPUT_PREFIX}{i}" for i in range(metadata.state_count)]
    missing = [n for n in state_in if n not in inputs] + [n for n in state_out if n not in outputs]
    if missing:
        raise ModelError(f"{path}: metadata declares {metadata.state_count} states but {missing} are missing")
    shapes = []
    for name in state_in:
        dims = inputs[name].shape
        if len(dims) != 4 or not all(isinstance(d, int) for d in dims[1:]):
            raise ModelError(f"{path}: state {name!r} has shape {dims}, expected [batch, C, F, context]")
        shapes.append((dims[1], dims[2], dims[3]))
    return LoadedModel(session, metadata, provider, path, output_name, state_in, state_out, shapes)
