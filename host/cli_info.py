"""`isovox info [MODEL]`: a model's metadata, file size, and the ONNX Runtime providers (torch-free).

MODEL defaults to "default", the model shipped at isovox/models/default.onnx. The provider shown as
used is the one a session really got (`session.get_providers()`), not the one asked for.
"""
from __future__ import annotations

import argparse
import json
import warnings

from isovox.host.model_file import DEVICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", default="default",
                        help='ONNX model made by `isovox export`, or "default" (the shipped model)')
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="device to open the model on, to show which provider runs it (default auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def model_info(model: str = "default", device: str = "auto") -> dict:
    """Everything `isovox info` shows, as a JSON-ready dict. Raises `ModelError` for a bad model."""
    from isovox.core.latency import latency_samples
    from isovox.core.spatial_wiener import filters
    from isovox.host.model_file import available_providers, open_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        loaded = open_model(model, device=device)
    metadata = loaded.metadata
    stft = metadata.stft
    latency = latency_samples(stft, metadata.lookahead_frames)
    return {
        "path": str(loaded.path),
        "size_bytes": loaded.path.stat().st_size,
        "metadata": metadata.describe(),
        "precision": loaded.precision,
        "frames_per_call": loaded.fixed_frames,
        "states": [list(shape) for shape in loaded.state_shapes],
        "latency_samples": latency,
        "latency_ms": round(1000 * latency / stft.sample_rate, 2),
        "spatial_wiener": filters(loaded.input_channels, metadata.output_kind),
        "properties": dict(sorted(loaded.properties.items())),
        "providers": {
            "available": available_providers(),
            "requested_device": device,
            "used": loaded.provider,
            "reason": loaded.provider_note,
            "notes": [str(w.message) for w in caught],
        },
    }


def _text(info: dict) -> str:
    meta, stft = info["metadata"], info["metadata"]["stft"]
    frames = info["frames_per_call"] or "any (dynamic time axis)"
    lines = [
        f"model:              {info['path']} ({info['size_bytes'] / 1e6:.2f} MB, {info['precision']})",
        f"format version:     {meta['format_version']}",
        (f"audio:              {stft['sample_rate']} Hz, n_fft {stft['n_fft']}, hop {stft['hop_samples']}, "
         f"window {stft['window']}; channels: {meta['channels']}"),
        f"input layout:       {meta['input_layout']}, frames per call: {frames}",
        f"output:             {meta['output_kind']}" + (
            "; stereo pairs through the spatial Wiener filter (30-s covariances; off: separate "
            "--no-spatial-wiener)" if info["spatial_wiener"] else ""),
        (f"look-ahead:         {meta['lookahead_frames']} frames; receptive field "
         f"{meta['receptive_field_frames']} past frames; {meta['state_count']} state tensors"),
        f"latency:            {info['latency_samples']} samples ({info['latency_ms']} ms)",
        f"model config:       {json.dumps(meta['model_config'], sort_keys=True)}",
        f"training data:      {meta['training_data'] or '(not recorded)'}",
        f"code revision:      {meta['code_revision'] or '(not recorded)'}",
        f"providers:          available {', '.join(info['providers']['available'])}",
        (f"                    used with --device {info['providers']['requested_device']}: "
         f"{info['providers']['used']}" + (f" ({info['providers']['reason']})" if info['providers']['reason']
                                           else "")),
        *(f"                    note: {note}" for note in info["providers"]["notes"]),
        "all metadata properties:",
        *(f"  {key} = {value}" for key, value in info["properties"].items()),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = model_info(args.model, args.device)
    print(json.dumps(info, indent=2) if args.json else _text(info))
    return 0
