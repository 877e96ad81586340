"""`isovox prepare-voices OUT --split train|heldout`: render singing and synthetic-speech lines into
OUT/vocals/<source>/ (training/corpus/voices.py; singing needs the [data] extra)."""
from __future__ import annotations

import argparse
from pathlib import Path

SPLITS = ("train", "heldout")   # as in `voices.SPLITS`, without importing the renderers for --help


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", type=Path, help="pools folder (lines go to OUT/vocals/<source>/)")
    parser.add_argument("--split", choices=SPLITS, default="train", help="which sources (default train)")
    parser.add_argument("--minutes-per-source", type=float, default=30.0, help="minutes per source (default 30)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel rendering processes (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed: same seed, same lines (default 1)")
    parser.add_argument("--sources", help="comma-separated source names (default: all of the split)")


def run(args: argparse.Namespace) -> int:
    """Render the vocal pools of one split; prints one line per source. Interrupted, finished lines
    are kept: run it again to resume."""
    import logging

    from isovox.training.corpus.voices import render_voices

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summaries = render_voices(args.out, args.split, args.minutes_per_source, args.jobs, args.seed,
                              sources=args.sources.split(",") if args.sources else None)
    for s in summaries:
        print(f"{s['name']}: {s['minutes']:.1f} min, {s['items']} lines, {s['voices']} voice(s), {s['category']}, "
              f"{s['bandwidth_hz']} Hz, licence {s['licence']}")
    return 0
