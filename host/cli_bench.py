"""`isovox bench`: latency, per-block processing time, offline speed, memory, and optionally quality."""
from __future__ import annotations

import argparse
import json

from isovox.core.errors import AudioDataError


def _block_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"block sizes {text!r} must be integers separated by commas, "
                                         "e.g. 128,256,512") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"block sizes {text!r} must be positive, e.g. 128,256,512")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default", help="'default' or an isovox ONNX file (default: default)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="execution device (default: auto = CUDA if it works, else CPU)")
    parser.add_argument("--phase", default="mixture", choices=("mixture", "griffinlim"),
                        help="phase of the output (default: mixture)")
    parser.add_argument("--no-spatial-wiener", dest="spatial_wiener", action="store_false",
                        help="apply a stereo model's masks as they are (default: through the spatial Wiener "
                             "filter, as separate and live do)")
    parser.add_argument("--block-sizes", type=_block_sizes, default=(128, 256, 512, 1024), metavar="N,N,...",
                        help="streaming block sizes in samples (default: 128,256,512,1024)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds of audio timed per block size, and the offline clip length (default: 20)")
    parser.add_argument("--threads", type=int, default=1,
                        help="ONNX Runtime intra-op threads of the streaming separator (default: 1)")
    parser.add_argument("--quality", metavar="DIR",
                        help="also score vocals SDR/SI-SDR on a MUSDB18-HQ-layout folder (needs museval)")
    parser.add_argument("--clip-seconds", type=float, default=20.0,
                        help="quality: cut each track to its most vocal window of this length (0 = whole)")
    parser.add_argument("--max-tracks", type=int, default=0, help="quality: use at most this many tracks (0 = all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    from isovox.host.bench import format_report, jsonable, run_bench

    if args.seconds <= 0:
        raise AudioDataError(f"--seconds {args.seconds} must be positive")
    report = run_bench(args.model, args.device, args.block_sizes, args.seconds, phase=args.phase,
                       intra_op_threads=args.threads, spatial_wiener=args.spatial_wiener)
    quality_text = ""
    if args.quality:
        from isovox.training.benchmark import quality

        clips, skipped = quality.load_clips(args.quality, args.clip_seconds, args.max_tracks)
        methods = {**quality.reference_methods(griffinlim=False),
                   "isovox offline": quality.separator_method(args.model, args.device, args.phase,
                                                              spatial_wiener=args.spatial_wiener),
                   "isovox streaming": quality.streaming_method(args.model, args.device, args.phase,
                                                               spatial_wiener=args.spatial_wiener)}
        results = quality.evaluate(clips, methods, progress=not args.json)
        report.quality = {**results.to_dict(), "skipped_instrumentals": skipped}
        quality_text = (f"\n\nquality on {len(clips)} clips of up to {args.clip_seconds:g} s from {args.quality} "
                        f"(museval v4 vocals SDR, median of 1 s frames, median of clips"
                        f"{'; instrumentals skipped: ' + ', '.join(skipped) if skipped else ''}):\n"
                        + results.to_markdown())
    if args.json:
        print(json.dumps(jsonable(report.to_dict()), indent=2))
    else:
        print(format_report(report) + quality_text)
    return 0
