"""Spectrograms of one held-out suite clip per category: mixture, true vocals, a model's estimate, mask.

    python benchmarks/suite_spectrograms.py --suite /work/data/suite --model default \
        --out benchmarks/results/suite-separation
writes OUT-<category>.png for the first clip of every category in SUITE/suite.json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import soundfile as sf
from isovox.host.separator import Separator
from isovox.training.benchmark.plots import plot_separation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, required=True, help="a suite built by benchmarks/heldout_suite.py")
    parser.add_argument("--model", default="default", help="isovox model ('default' or an ONNX file)")
    parser.add_argument("--out", type=Path, required=True, help="PNG path prefix")
    args = parser.parse_args()
    separator = Separator(args.model, device="cpu")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for category in sorted(p for p in args.suite.iterdir() if p.is_dir() and not p.name.startswith(".")):
        clip = min(p for p in category.iterdir() if p.is_dir())
        mixture, rate = sf.read(clip / "mixture.wav", dtype="float32", always_2d=True)
        vocals, _ = sf.read(clip / "vocals.wav", dtype="float32", always_2d=True)
        estimate = separator.separate(mixture.T, rate)
        path = plot_separation(f"{args.out}-{category.name}.png", rate, mixture.T, estimate, vocals.T)
        print(f"{category.name}: {clip.name} → {path}")


if __name__ == "__main__":
    main()
