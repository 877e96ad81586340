"""Training data throughput: milliseconds per training crop, read from FLAC or from decoded copies.

Times the same `CropDataset` items (same seed, so the same files and offsets) four ways: soundfile
reads with the vocal effects, decoded-copy reads with the effects, decoded-copy reads without them
(the read alone), and decoded-copy reads with the effects and the accompaniment variety (speed and
layers, as `isovox train --accompaniment-speed 0.5 --accompaniment-layers 0.3`). An untimed pass
over the cached runs first writes the copies their crops read. The machine is shared and noisy:
compare the ratios of one run, and name the machine.

    python benchmarks/data_loading.py --data /work/data/pools-train /work/data/corpus-midi \
        --cache /work/data/decoded-cache --crops 80 --machine '2-core EPYC, training on both cores'
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from isovox.training.datasets import Augmentation, CropDataset, TrackScanner
from isovox.training.decoded_cache import DecodedCache
from tqdm import tqdm

CROP_SAMPLES = 384 * 512  # the long run's crops: 384 STFT frames at hop 512


def _ms_per_crop(dataset: CropDataset) -> float:
    started = time.perf_counter()
    for index in range(len(dataset)):
        dataset[index]
    return 1000 * (time.perf_counter() - started) / len(dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--cache", type=Path, required=True, help="decoded-copy folder (filled first)")
    parser.add_argument("--crops", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--machine", default="unnamed machine")
    args = parser.parse_args()

    tracks = [t for root in args.data for t in TrackScanner(root, split="train", refuse_heldout=True).scan()]
    cache = DecodedCache(args.cache)
    effects = Augmentation()
    runs = {
        "soundfile reads + vocal effects": CropDataset(tracks, CROP_SAMPLES, args.crops, seed=args.seed,
                                                       augmentation=effects),
        "decoded copies + vocal effects": CropDataset(tracks, CROP_SAMPLES, args.crops, seed=args.seed,
                                                      augmentation=effects, cache=cache),
        "decoded copies, no vocal effects": CropDataset(
            tracks, CROP_SAMPLES, args.crops, seed=args.seed, cache=cache,
            augmentation=dataclasses.replace(effects, vocal_effects=False)),
        "decoded copies + effects + variety": CropDataset(  # `--accompaniment-speed 0.5 --accompaniment-layers 0.3`
            tracks, CROP_SAMPLES, args.crops, seed=args.seed, cache=cache,
            augmentation=dataclasses.replace(effects, accompaniment_speed_probability=0.5,
                                             accompaniment_layer_probability=0.3)),
    }
    for name, dataset in runs.items():  # untimed pass: writes the decoded copies these crops read
        if dataset.cache is not None:
            for index in tqdm(range(len(dataset)), desc=f"warm-up, {name}", unit="crop"):
                dataset[index]
    print(f"{args.crops} crops of {CROP_SAMPLES} samples on {args.machine}:")
    for name, dataset in runs.items():
        print(f"  {name:34s} {_ms_per_crop(dataset):7.1f} ms per crop")


if __name__ == "__main__":
    main()
