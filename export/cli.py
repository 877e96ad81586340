"""`isovox export CHECKPOINT -o MODEL.onnx`: checkpoint → checked ONNX model with isovox metadata.

Steps: load the checkpoint (`weights_only=True`), export float32 to a temp folder, run `onnx.checker`,
compare ONNX Runtime with torch (random shapes, a real clip, the clip streamed frame by frame; fails
above 1e-4), optionally convert to fp16 or int8 and report the difference, the SDR change and the speed
change, then write MODEL.onnx atomically. Nothing is written when any step fails.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from isovox.core.errors import ModelError
from isovox.export import DEFAULT_OPSET, MIN_OPSET


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="training checkpoint (.pt) written by `isovox train`")
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write (replaced atomically)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET}; {MIN_OPSET} or higher)")
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument("--fp16", action="store_true",
                           help="write a float16 graph (float32 inputs/outputs); for GPUs, slower on CPU")
    precision.add_argument("--int8", action="store_true",
                           help="write a dynamically int8-quantised graph (onnxruntime.quantization)")
    parser.add_argument("--dynamic", action="store_true",
                        help="dynamic time axis, any frames per call: always so (the host refuses a fixed "
                             "one); accepted for older scripts")


def check_output_path(checkpoint: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Refuse an output that is the checkpoint, a directory, or not writable; return it as a Path."""
    output, checkpoint = Path(output), Path(checkpoint)
    if output.exists() and checkpoint.exists() and os.path.samefile(output, checkpoint):
        raise ModelError(f"output {str(output)!r} is the checkpoint itself; choose another -o path")
    if output.is_dir():
        raise ModelError(f"output {str(output)!r} is a directory; give a file name such as "
                         f"{str(output / 'model.onnx')!r}")
    if not output.parent.is_dir():
        raise ModelError(f"output folder {str(output.parent)!r} does not exist; create it or choose another -o")
    try:  # a real probe: permissions, read-only file systems and quotas all show up here
        with tempfile.NamedTemporaryFile(dir=output.parent, prefix=f".{output.name}.probe"):
            pass
    except OSError as exc:
        raise ModelError(f"output folder {str(output.parent)!r} is not writable ({exc.strerror}); "
                         "choose another -o path") from None
    return output


CHUNK_FRAMES = 256   # ≈ 3 s per ONNX Runtime call when comparing variants on the clip


def _megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


def _report_variant(model, fp32, variant, clip, precision: str) -> None:
    """Print the variant's max difference to torch and its SDR change on the clip's vocals."""
    import numpy as np
    from isovox.core.metrics import sdr_db
    from isovox.export.onnx_run import separate_vocals
    from isovox.export.parity import check_parity

    report = check_parity(model, variant, clip, tolerance=float("inf"))
    if not np.isfinite(report.max_abs_diff):
        raise ModelError(f"the {precision} graph produces non-finite values; export it in float32")
    reference, estimate = (separate_vocals(loaded, clip.mixture, CHUNK_FRAMES) for loaded in (fp32, variant))
    sdr_fp32, sdr_variant = sdr_db(clip.vocals, reference), sdr_db(clip.vocals, estimate)
    print(f"{precision} vs torch: max |diff| {report.max_abs_diff:.2e}; vocals estimate on the clip: "
          f"{sdr_db(reference, estimate):.1f} dB SDR against the float32 estimate; SDR against the true "
          f"vocals {sdr_fp32:.2f} → {sdr_variant:.2f} dB ({sdr_variant - sdr_fp32:+.2f} dB)")


def _report_speed(written: list[tuple[str, Path]], per_call: str) -> None:
    """Print size and ORT CPU time per second of audio of each (precision, file), vs the first."""
    from isovox.export.speed import measure_speed

    base = None
    for precision, path in written:
        speed = measure_speed(path)
        change = "" if base is None else (f" (×{speed.offline_rtf / base.offline_rtf:.2f} / "
                                          f"×{speed.streaming_rtf / base.streaming_rtf:.2f} the float32 times)")
        base = base or speed
        print(f"{precision}: {_megabytes(path)}; ONNX Runtime CPU, {speed.threads} thread, {speed.channels} "
              f"channels: {speed.offline_rtf:.3f} s per second of audio offline, {speed.streaming_rtf:.3f} s "
              f"streaming ({per_call} per call){change}")


def run(args: argparse.Namespace) -> int:
    import onnx
    from isovox.export.onnx_export import build_metadata, export_onnx, save_atomic
    from isovox.export.parity import check_parity
    from isovox.export.quantize import convert
    from isovox.export.reference_clip import reference_clip
    from isovox.host.model_file import open_model
    from isovox.training.checkpoint import load_checkpoint

    output = check_output_path(args.checkpoint, args.output)
    precision = "float16" if args.fp16 else "int8" if args.int8 else "float32"
    model, payload = load_checkpoint(args.checkpoint)
    metadata = build_metadata(model, training_data=str(payload.get("training_data", "")),
                              code_revision=str(payload.get("code_revision", "")))
    with tempfile.TemporaryDirectory(prefix="isovox-export-") as workdir:
        fp32_path = Path(workdir) / "float32.onnx"
        start = time.perf_counter()
        export_onnx(model, fp32_path, metadata, opset=args.opset)
        print(f"exported {args.checkpoint} (float32, opset {args.opset}, dynamic frames) in "
              f"{time.perf_counter() - start:.1f} s, {_megabytes(fp32_path)}; onnx.checker passed")

        clip = reference_clip(metadata.stft.sample_rate)
        fp32 = open_model(fp32_path, device="cpu", intra_op_threads=1)
        report = check_parity(model, fp32, clip)
        worst = report.worst()
        print(f"parity float32 ONNX Runtime vs torch: max |diff| {report.max_abs_diff:.2e} over "
              f"{len(report.cases)} cases (worst: {worst.name}; clip: {clip.description})")
        if not report.passed:
            raise ModelError(f"ONNX output differs from torch by {worst.max_abs_diff:.2e} > "
                             f"{report.tolerance:.0e} ({worst.name}); nothing written — report this as a bug")
        written = [("float32", fp32_path)]
        if precision != "float32":
            written.append((precision, Path(workdir) / f"{precision}.onnx"))
            save_atomic(convert(onnx.load(str(fp32_path)), precision), written[-1][1])
            _report_variant(model, fp32, open_model(written[-1][1], device="cpu", intra_op_threads=1), clip,
                            precision)
        _report_speed(written, "1 frame")
        save_atomic(onnx.load(str(written[-1][1])), output)
    print(f"wrote {output} ({precision}, {_megabytes(output)})")
    return 0
