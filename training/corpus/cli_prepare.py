"""`isovox prepare-data OUT --split train|heldout`: decode the recorded speech and music sources into pools."""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="pools folder: OUT/{vocals,accompaniment}/<source>/*.flac, "
                                                   "a source.json each, OUT/pools.json last")
    parser.add_argument("--split", required=True, choices=("train", "heldout"),
                        help="which sources: train, or the held-out packages that measure generalisation")
    parser.add_argument("--jobs", type=int, default=1, help="parallel decoding processes (default 1)")
    parser.add_argument("--only", metavar="SOURCE,...", default="",
                        help="comma-separated source names (default: every source of the split)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="skip a source whose package is not installed (with a warning) instead of failing")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from isovox.core.errors import AudioDataError
    from isovox.training.corpus.pools import prepare_pools

    if args.jobs < 1:
        raise AudioDataError(f"--jobs {args.jobs}: expected at least 1; fix the option")
    only = [name.strip() for name in args.only.split(",") if name.strip()] or None
    report = prepare_pools(args.out, args.split, jobs=args.jobs, only=only, skip_missing=args.skip_missing,
                           progress=not args.quiet,
                           on_skip=lambda message: print(f"isovox: warning: skipped: {message}", file=sys.stderr))
    for summary in report.manifest["sources"]:
        wall = report.wall_seconds.get(summary["name"])
        voices = "" if summary["voices"] is None else f", {summary['voices']} voice(s)"
        took = f", {wall:.0f} s" if wall is not None else ""
        print(f"{summary['path']}: {summary['items']} item(s), {summary['minutes']:.1f} min{voices}, "
              f"{summary['excluded']} excluded, {summary['licence']}{took}")
    print(f"wrote {args.out}/pools.json ({len(report.manifest['sources'])} source(s), split {args.split})")
    return 0
