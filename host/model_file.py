"""Find, open and validate an isovox ONNX model in ONNX Runtime (torch-free).

`open_model` returns a `LoadedModel`: the ORT session, the parsed metadata, the provider that really
runs (from `session.get_providers()`, never from what was asked), and the state shapes read off the graph.
A file is refused, with a one-line `ModelError` naming what is wrong, when it has no isovox metadata, a
newer format version, or inputs/outputs that differ from the graph contract in core.model_metadata
(names, float32, [batch, input_channels, model_bins, frames] with a dynamic batch, matching state shapes).
"""
from __future__ import annotations

import contextlib
import ctypes.util
import importlib.resources
import io
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from isovox.core.errors import DeviceError, ModelError
from isovox.core.model_metadata import (
    INPUT_NAME,
    OUTPUT_KINDS,
    STATE_INPUT_PREFIX,
    STATE_OUTPUT_PREFIX,
    ModelMetadata,
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
            raise ModelError(f"no default model is installed at {path} (not shipped yet, or a broken "
                             "install); pass a model file made by `isovox export` instead")
        raise ModelError(f"model file {str(path)!r} does not exist; pass an ONNX file made by `isovox export`")
    return path


@dataclass
class LoadedModel:
    """An open, validated model: feed `log_magnitude` and `state_input_names`, read `output_name` and
    `state_output_names` (shapes in core.model_metadata)."""

    session: object              # onnxruntime.InferenceSession
    metadata: ModelMetadata
    provider: str                # the execution provider that really runs the graph
    path: Path
    output_name: str
    state_input_names: list[str]
    state_output_names: list[str]
    state_shapes: list[tuple[int, int, int]]   # (channels, bins, context_frames), batch excluded
    fixed_frames: int | None = None            # frames per call when the time axis is fixed, else None
    properties: dict[str, str] = field(default_factory=dict)   # every metadata property, verbatim
    provider_note: str = ""                    # why `provider` runs and not another (for `isovox info`)

    @property
    def input_channels(self) -> int:
        """Audio channels one batch item holds: 1 (a mono model) or 2 (stereo pairs; `core.channel_groups`)."""
        return self.metadata.input_channels

    @property
    def precision(self) -> str:
        """'float32', 'float16' or 'int8' (what `isovox export` wrote; 'float32' when not recorded)."""
        return self.properties.get("isovox.precision", "float32")


def _import_ort():
    import onnxruntime as ort

    # 4 = fatal only: the CUDA provider's load failure is logged at error level; we report it instead
    ort.set_default_logger_severity(4)
    return ort


def available_providers() -> list[str]:
    return list(_import_ort().get_available_providers())


def nvidia_gpu_present() -> bool:
    """Whether an NVIDIA driver is installed and sees a GPU (its device nodes or its Windows library).

    onnxruntime-gpu lists the CUDA provider even where no GPU exists, so `--device auto` asks this
    first: a machine without one runs on CPU quietly instead of failing to load CUDA every run."""
    if sys.platform == "win32":
        return ctypes.util.find_library("nvcuda") is not None
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/dxg") or any(
        name.startswith("nvidia") and name[6:].isdigit() for name in _listdir("/dev"))  # dxg: WSL 2


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _providers_for(device: str, ort) -> tuple[list[str], str]:
    """(providers to ask the session for, a note on why) for `device`."""
    if device not in DEVICES:
        raise DeviceError(f"device {device!r} is not one of {DEVICES}")
    if device == "cpu":
        return ["CPUExecutionProvider"], "asked for with --device cpu"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        if device == "cuda":
            raise DeviceError("device 'cuda' was asked for but this onnxruntime has no CUDA provider; "
                              "install onnxruntime-gpu or use --device cpu")
        return ["CPUExecutionProvider"], "this onnxruntime has no CUDA provider"
    if device == "auto" and not nvidia_gpu_present():
        return ["CPUExecutionProvider"], "no NVIDIA GPU found, so CUDA was not tried"
    if hasattr(ort, "preload_dlls"):
        try:  # preload_dlls print()s every library it misses: keep stdout clean (e.g. `info --json`)
            with contextlib.redirect_stdout(io.StringIO()):
                ort.preload_dlls()
        except Exception:  # noqa: BLE001, S110 - preload is best effort; the session tells the truth below
            pass
    return ["CUDAExecutionProvider", "CPUExecutionProvider"], ""


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
    providers, note = _providers_for(device, ort)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - ORT raises several types for a bad file
        raise ModelError(f"{path} is not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None
    provider = session.get_providers()[0]
    if providers[0] == "CUDAExecutionProvider" and provider != "CUDAExecutionProvider":
        if device == "cuda":
            raise DeviceError("device 'cuda' was asked for but the CUDA provider failed to load "
                              "(missing CUDA/cuDNN libraries?); use --device cpu")
        note = "an NVIDIA GPU is present but the CUDA provider failed to load (missing CUDA/cuDNN libraries?)"
        warnings.warn(f"{note}; running on CPU", RuntimeWarning, stacklevel=2)
    elif provider == "CUDAExecutionProvider":
        note = "the CUDA provider loaded"
    properties = dict(session.get_modelmeta().custom_metadata_map)
    metadata = ModelMetadata.from_properties(properties, source=str(path))
    loaded = _validated(session, metadata, provider, path, properties)
    loaded.provider_note = note
    return loaded


FLOAT = "tensor(float)"


def _is_dynamic(dim) -> bool:
    """ORT reports a symbolic axis as its name (str) or None, a fixed one as an int."""
    return not isinstance(dim, int)


def _check_signal(path: Path, kind: str, arg, channels: int, bins: int) -> int | None:
    """Check a (batch, channels, bins, frames) float32 input/output; return its fixed frames or None."""
    shape = arg.shape
    expected = f"float32 [batch, {channels}, {bins}, frames]"
    if (arg.type != FLOAT or len(shape) != 4 or not _is_dynamic(shape[0]) or shape[1] != channels
            or shape[2] != bins or (isinstance(shape[3], int) and shape[3] < 1)):
        raise ModelError(f"{path}: {kind} {arg.name!r} is {arg.type} {shape}, expected {expected} with a "
                         "dynamic batch; re-export it with `isovox export`")
    return None if _is_dynamic(shape[3]) else shape[3]


def _validated(session, metadata: ModelMetadata, provider: str, path: Path,
               properties: dict[str, str]) -> LoadedModel:
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if INPUT_NAME not in inputs:
        raise ModelError(f"{path}: no input named {INPUT_NAME!r} (inputs: {sorted(inputs)})")
    output_name = metadata.output_kind
    if output_name not in outputs or output_name not in OUTPUT_KINDS:
        raise ModelError(f"{path}: no output named {output_name!r} (outputs: {sorted(outputs)})")
    bins, channels = metadata.stft.model_bins, metadata.input_channels
    fixed_frames = _check_signal(path, "input", inputs[INPUT_NAME], channels, bins)
    if _check_signal(path, "output", outputs[output_name], channels, bins) != fixed_frames:
        raise ModelError(f"{path}: output {output_name!r} has shape {outputs[output_name].shape} but input "
                         f"{INPUT_NAME!r} has {inputs[INPUT_NAME].shape}; the frame axes must agree")
    state_in = [f"{STATE_INPUT_PREFIX}{i}" for i in range(metadata.state_count)]
    state_out = [f"{STATE_OUTPUT_PREFIX}{i}" for i in range(metadata.state_count)]
    missing = [n for n in state_in if n not in inputs] + [n for n in state_out if n not in outputs]
    if missing:
        raise ModelError(f"{path}: metadata declares {metadata.state_count} states but {missing} are missing")
    extra = sorted(set(inputs) - {INPUT_NAME, *state_in})
    if extra:
        raise ModelError(f"{path}: inputs {extra} are not part of the isovox graph contract "
                         f"({INPUT_NAME!r} and {metadata.state_count} states)")
    shapes = []
    for name_in, name_out in zip(state_in, state_out):
        dims, dims_out = inputs[name_in].shape, outputs[name_out].shape
        if (inputs[name_in].type != FLOAT or len(dims) != 4 or not _is_dynamic(dims[0])
                or not all(isinstance(d, int) for d in dims[1:])):
            raise ModelError(f"{path}: state {name_in!r} is {inputs[name_in].type} {dims}, expected "
                             "float32 [batch, C, F, context] with fixed C, F, context")
        if outputs[name_out].type != FLOAT or list(dims_out[1:]) != list(dims[1:]):
            raise ModelError(f"{path}: {name_out!r} is {outputs[name_out].type} {dims_out} but {name_in!r} is "
                             f"{dims}; a state must come back with the shape it went in")
        shapes.append((dims[1], dims[2], dims[3]))
    return LoadedModel(session, metadata, provider, path, output_name, state_in, state_out, shapes,
                       fixed_frames=fixed_frames, properties=properties)
