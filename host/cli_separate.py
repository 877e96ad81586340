"""`isovox separate IN... -o OUT`: isolate the vocals (and optionally the accompaniment) of audio files.

One file in and OUT a file name keeps the original contract; several files, folders, or OUT a folder
make a batch (see `host/batch.py`): each bad file gets its one-line error, the others go on, and the
exit status says that something failed. `--jobs N` separates N files at once in spawned processes.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from isovox.core.errors import SettingError, ToolMissingError

PLOT_MAX_SECONDS = 600.0   # --plot reads back at most this much audio
# the same as isovox.host.batch.EXTENSIONS, isovox.core.audio_io.BIT_DEPTHS and CLIP_MODES (a test
# checks), spelled out so that `isovox --help` does not import numpy and soundfile
FORMAT_CHOICES = ("wav", "flac", "ogg", "mp3", "aiff")
BIT_DEPTH_CHOICES = ("16", "24", "32f")
CLIP_MODE_CHOICES = ("rescale", "clamp", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "One input file: OUT receives the first stem listed in --stems (vocals by default); every\n"
        "other stem is written beside it with the stem name before the extension; an existing OUT is\n"
        "replaced:\n"
        "  isovox separate song.flac -o song.vocals.flac --stems vocals,accompaniment\n"
        "  → song.vocals.flac and song.vocals.accompaniment.flac\n"
        "Several inputs, folders (their audio files, not subfolders), or OUT a folder (one that exists,\n"
        "or ending in / or without an extension): OUT/<track>/<stem>.wav, files that exist are kept:\n"
        "  isovox separate a.mp3 b.flac album/ -o out/ --stems vocals,accompaniment --jobs 2\n"
        "  → out/a/vocals.wav, out/a/accompaniment.wav, out/b/..., one folder per file in album/\n"
        "  --filename '{track}.{stem}.{ext}' --format flac → out/a.vocals.flac, out/a.accompaniment.flac\n"
        "A bad file gets one line on stderr, the others go on, and the exit status is non-zero.\n"
        "accompaniment = mixture − vocals, exact with --bit-depth 32f (to float32 rounding; unclipped).\n"
        "Formats: WAV, FLAC, OGG, MP3 (320 kbit/s) and AIFF in and out; M4A/AAC must be converted first\n"
        "(ffmpeg -i song.m4a song.wav). The sample rate, channel count and length are the input's.\n"
        "Samples beyond full scale are counted and warned about once per file. The input is never\n"
        "overwritten, and on error no partial output is left behind."
    )
    parser.add_argument("inputs", metavar="IN", nargs="+",
                        help="audio files (WAV, FLAC, OGG, MP3, AIFF) or folders of them")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="the first stem's file (one input), or a folder (see below)")
    parser.add_argument("--stems", default="vocals",
                        help="comma-separated stems to write: vocals, accompaniment (default: vocals)")
    parser.add_argument("--filename", metavar="TEMPLATE",
                        help="file path under the OUT folder from {track} (the input's name without its "
                             "extension), {stem} and {ext} (default: {track}/{stem}.{ext})")
    parser.add_argument("--format", choices=FORMAT_CHOICES,
                        help="output format (default: OUT's extension; wav in an OUT folder)")
    parser.add_argument("--bit-depth", choices=BIT_DEPTH_CHOICES,
                        help="16, 24 or 32f (32-bit float) for WAV, AIFF and FLAC (at most 24) (default: "
                             "the input's where the format holds it; 24 for float input to FLAC)")
    parser.add_argument("--clip-mode", choices=CLIP_MODE_CHOICES,
                        help="samples beyond full scale: rescale (one gain per track), clamp, or none "
                             "(default: clamp; none for 32-bit float output)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace stem files that exist in an OUT folder (default: keep them)")
    parser.add_argument("-j", "--jobs", type=int, default=1,
                        help="files separated at once, in parallel processes (default 1)")
    parser.add_argument("--model", default="default", help="isovox ONNX model file (default: the shipped one)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="execution device (default: auto = CUDA where an NVIDIA GPU works, else CPU)")
    parser.add_argument("--phase", default="mixture", choices=("mixture", "griffinlim"),
                        help="phase of the estimate: the mixture's (default), or block-wise Griffin-Lim refined "
                             "from it. Griffin-Lim pays when the magnitude is close to the true one (+~2 dB "
                             "SDR with ideal masks); with the shipped model it scores 0.05 dB lower and runs "
                             "slower, so keep the default unless your model's quality benchmark says otherwise")
    parser.add_argument("--spatial-wiener", action=argparse.BooleanOptionalAction, default=True,
                        help="a stereo model's channel pairs through the causal spatial Wiener filter, which "
                             "also uses where the voice sits in the stereo image (default: on; +0.1 dB SDR on "
                             "the held-out suite); --no-spatial-wiener applies the model's masks as they are")
    parser.add_argument("--plot", metavar="PNG", help="also save a spectrogram figure of mixture and vocals "
                                                      "(one input file)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def run(args: argparse.Namespace) -> int:
    from .batch import make_folders, plan_tracks, remove_empty_folders
    from .batch_jobs import TrackOptions, separate_in_parallel, separate_track
    from .separator import Separator

    if args.jobs < 1:
        raise SettingError(f"--jobs {args.jobs} must be 1 or more")
    stems = [s.strip() for s in args.stems.split(",") if s.strip()]
    # reject bad input, stems and outputs before loading the model
    plan = plan_tracks(args.inputs, args.output, stems, args.filename, args.format, args.bit_depth,
                       args.overwrite)
    if args.plot and not plan.single:
        raise SettingError("--plot draws one file: give one input file and an output file name")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise SettingError(f"--plot {args.plot!r} must name a .png file")
    plot = _plotter() if args.plot else None
    for source, error in plan.failures:
        _print_error(str(source), str(error))
    todo = [track for track in plan.tracks if track.outputs]
    separator_args = {"model": args.model, "device": args.device, "phase": args.phase,
                      "spatial_wiener": args.spatial_wiener}
    separator = Separator(**separator_args) if todo else None  # a bad model fails once, before any work
    if separator is not None and not args.quiet:  # stderr stays for errors only
        jobs = f", {min(args.jobs, len(todo))} files at once" if args.jobs > 1 and len(todo) > 1 else ""
        print(f"isovox: running on {separator.provider}{jobs}")
    options = TrackOptions(args.bit_depth, args.clip_mode)
    if plan.single:
        return _single(separator, plan.tracks[0], options, args, plot)
    created = make_folders(todo)
    try:
        if args.jobs > 1 and len(todo) > 1:
            del separator                                   # each worker opens its own
            results = separate_in_parallel(todo, options, separator_args, min(args.jobs, len(todo)))
        else:
            results = (separate_track(separator, track, options, progress=not args.quiet) for track in todo)
        codes = [_report(result, args.quiet) for result in results]
    finally:
        remove_empty_folders(created)
    for track in plan.tracks:
        if not args.quiet and track.kept:
            print(f"kept: {', '.join(str(path) for path in track.kept.values())} (exists; --overwrite "
                  "replaces it)")
    failed = len(plan.failures) + sum(code != 0 for code in codes)
    if not args.quiet:
        print(f"isovox: {len(codes) - sum(code != 0 for code in codes)} separated, "
              f"{len(plan.tracks) - len(todo)} skipped, {failed} failed")
    return max([exc.exit_code for _, exc in plan.failures] + codes + [0])


def _single(separator, track, options, args, plot) -> int:
    """The one-file contract: errors propagate to the CLI as one line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = separator.separate_file(track.input, track.outputs, progress=not args.quiet,
                                          bit_depth=options.bit_depth, clip_mode=options.clip_mode)
    if not args.quiet:
        for warning in caught:
            print(f"isovox: warning: {warning.message}", file=sys.stderr)
    if plot is not None:
        _plot(plot, args.plot, str(track.input), next(iter(written.values())))
    if not args.quiet:
        for stem, path in written.items():
            print(f"{stem}: {path}")
        if args.plot:
            print(f"plot: {args.plot}")
    return 0


def _report(result, quiet: bool) -> int:
    """Print one track's outcome; return its exit status."""
    if result.error is not None:
        _print_error(str(result.track.input), result.error)
        return result.exit_code
    if not quiet:
        for message in result.warnings:
            print(f"isovox: warning: {message}", file=sys.stderr)
        for stem, path in result.written.items():
            print(f"{stem}: {path}")
    return 0


def _print_error(source: str, message: str) -> None:
    """One line on stderr, naming the input unless the message already does."""
    prefix = "" if source in message else f"{source}: "
    print(f"isovox: error: {prefix}{message}", file=sys.stderr)


def _plotter():
    """`isovox.training.benchmark.plots.plot_separation`; `ToolMissingError` before any work if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401 - only checked here; plots imports pyplot when drawing
    except ImportError:
        raise ToolMissingError("--plot needs matplotlib, which is not installed; "
                               "pip install 'isovox[plot]' or drop --plot") from None
    from isovox.training.benchmark.plots import plot_separation

    return plot_separation


def _plot(plot_separation, png_path: str, in_path: str, estimate_path) -> None:
    """Read back (at most PLOT_MAX_SECONDS of) the input and the first stem and plot them."""
    from isovox.core.audio_io import read_info

    info = read_info(in_path)
    samples = int(min(info.samples, PLOT_MAX_SECONDS * info.sample_rate))
    if info.samples > samples:
        print(f"isovox: the plot shows the first {PLOT_MAX_SECONDS:.0f} s", file=sys.stderr)
    plot_separation(png_path, info.sample_rate, _head(info, samples), _head(read_info(estimate_path), samples))


def _head(info, samples: int):
    """The first `samples` samples of a file (channels, samples) float32, through core's reader."""
    import numpy as np
    from isovox.core.audio_io import read_blocks

    blocks, count = [], 0
    for block in read_blocks(info, 65536):
        blocks.append(block[:, :samples - count])
        count += blocks[-1].shape[1]
        if count >= samples:
            break
    return np.concatenate(blocks, axis=1)
