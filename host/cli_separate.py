"""`isovox separate IN -o OUT`: isolate the vocals (and optionally the accompaniment) of an audio file."""
from __future__ import annotations

import argparse
import sys
import warnings

from isovox.core.errors import ConfigMismatchError, ToolMissingError

PLOT_MAX_SECONDS = 600.0   # --plot reads back at most this much audio


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "OUT receives the first stem listed in --stems (vocals by default); every other stem is written\n"
        "beside it with the stem name before the extension:\n"
        "  isovox separate song.flac -o song.vocals.flac --stems vocals,accompaniment\n"
        "  → song.vocals.flac and song.vocals.accompaniment.flac\n"
        "accompaniment = mixture − vocals. OUT's extension picks the format (.wav, .flac, .ogg); the\n"
        "sample rate, channel count and length are the input's. The input is never overwritten, and on\n"
        "error no partial output is left behind."
    )
    parser.add_argument("input", metavar="IN", help="audio file to separate (WAV, FLAC or OGG)")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="output file for the first stem (.wav, .flac or .ogg)")
    parser.add_argument("--stems", default="vocals",
                        help="comma-separated stems to write: vocals, accompaniment (default: vocals)")
    parser.add_argument("--model", default="default", help="isovox ONNX model file (default: the shipped one)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="execution device (default: auto = CUDA if it works, else CPU)")
    parser.add_argument("--phase", default="mixture", choices=("mixture", "griffinlim"),
                        help="phase of the estimate: the mixture's, or Griffin-Lim refined from it")
    parser.add_argument("--plot", metavar="PNG", help="also save a spectrogram figure of mixture and vocals")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    from isovox.core.audio_io import check_output_path, read_info

    from .separator import Separator, stem_paths

    stems = [s.strip() for s in args.stems.split(",") if s.strip()]
    info = read_info(args.input)  # reject bad input, stems and outputs before loading the model
    for path in stem_paths(args.output, stems).values():
        check_output_path(path, [info.path])
    if args.plot and not args.plot.lower().endswith(".png"):
        raise ConfigMismatchError(f"--plot {args.plot!r} must name a .png file")
    plot = _plotter() if args.plot else None
    with warnings.catch_warnings(record=True) as caught:  # e.g. "the CUDA provider failed to load"
        warnings.simplefilter("always")
        separator = Separator(args.model, device=args.device, phase=args.phase)
    if not args.quiet:  # stderr stays for errors only
        notes = "".join(f" ({warning.message})" for warning in caught)
        print(f"isovox: running on {separator.provider}{notes}")
    written = separator.separate_file(args.input, args.output, stems=stems, progress=not args.quiet)
    if plot is not None:
        _plot(plot, args.plot, args.input, written[stems[0]])
    if not args.quiet:
        for stem, path in written.items():
            print(f"{stem}: {path}")
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def _plotter():
    """`isovox.host.plots.plot_separation`; `ToolMissingError` before any work if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401 - only checked here; plots imports pyplot when drawing
    except ImportError:
        raise ToolMissingError("--plot needs matplotlib, which is not installed; "
                               "pip install 'isovox[plot]' or drop --plot") from None
    from .plots import plot_separation

    return plot_separation


def _plot(plot_separation, png_path: str, in_path: str, estimate_path) -> None:
    """Read back (at most PLOT_MAX_SECONDS of) the input and the first stem and plot them."""
    import soundfile as sf

    info = sf.info(str(in_path))
    frames = int(min(info.frames, PLOT_MAX_SECONDS * info.samplerate))
    mixture, rate = sf.read(str(in_path), frames=frames, dtype="float32", always_2d=True)
    estimate, _ = sf.read(str(estimate_path), frames=frames, dtype="float32", always_2d=True)
    if info.frames > frames:
        print(f"isovox: the plot shows the first {PLOT_MAX_SECONDS:.0f} s", file=sys.stderr)
    plot_separation(png_path, rate, mixture.T, estimate.T)
