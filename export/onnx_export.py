"""Export an isovox `UNet` to ONNX with the isovox metadata (format version 1, see core.model_metadata)."""
from __future__ import annotations

import os
from pathlib import Path

import onnx
import torch

from isovox.core.model_metadata import (
    INPUT_NAME, STATE_INPUT_PREFIX, STATE_OUTPUT_PREFIX, ModelMetadata,
)
from isovox.training.model import UNet

EXPORT_FRAMES = 16  # frames in the example input; the time axis is exported dynamic


def build_metadata(model: UNet, training_data: str = "", code_revision: str = "") -> ModelMetadata:
    config = model.config
    return ModelMetadata(
        stft=config.stft,
        output_kind=config.output_kind,
        lookahead_frames=config.lookahead_frames,
        receptive_field_frames=model.receptive_field_frames,
        state_count=len(model.state_shapes()),
        model_config=config.to_dict(),
        training_data=training_data,
        code_revision=code_revision,
    )


def export_onnx(model: UNet, path: str | Path, metadata: ModelMetadata, opset: int = 17) -> Path:
    """Write `model` (eval mode) as ONNX with dynamic batch and frame axes and `metadata` props.

    Uses the TorchScript-based exporter (`dynamo=False`): it exports this graph in about a second with
    dynamic axes and matched torch to ~1e-7; the dynamo exporter needs per-dim constraints for the
    state concatenations and was slower. Written to a temp file and renamed (atomic)."""
    path = Path(path)
    model = model.eval()
    states = model.initial_states(1)
    example = (torch.zeros(1, 1, model.config.stft.model_bins, EXPORT_FRAMES), *states)
    state_names = [f"{STATE_INPUT_PREFIX}{i}" for i in range(len(states))]
    next_names = [f"{STATE_OUTPUT_PREFIX}{i}" for i in range(len(states))]
    output_name = metadata.output_kind
    dynamic = {INPUT_NAME: {0: "batch", 3: "frames"}, output_name: {0: "batch", 3: "frames"}}
    dynamic.update({name: {0: "batch"} for name in state_names + next_names})
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with torch.no_grad():
            torch.onnx.export(
                model, example, str(tmp), input_names=[INPUT_NAME, *state_names],
                output_names=[output_name, *next_names], dynamic_axes=dynamic, opset_version=opset,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        for key, value in metadata.to_properties().items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
