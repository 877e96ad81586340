"""Vocal SDR of a training checkpoint on held-out clips, beside the mixture and the oracle IRM.

Usage: python benchmarks/heldout_eval.py CHECKPOINT DATA_DIR [CLIP_SECONDS=6] [CLIPS=8]
(museval BSS Eval v4: median over 1 s frames, median over clips; clips are each track's loudest-vocal
window, instrumental tracks skipped — the same protocol as `isovox train`'s validation).
"""
from __future__ import annotations

import sys
import time

import torch
from isovox.training.checkpoint import load_checkpoint
from isovox.training.datasets import TrackScanner, validation_clips
from isovox.training.evaluate import model_score, reference_scores


def main(argv: list[str]) -> None:
    checkpoint, data = argv[0], argv[1]
    clip_seconds = float(argv[2]) if len(argv) > 2 else 6.0
    clip_count = int(argv[3]) if len(argv) > 3 else 8
    torch.set_num_threads(2)
    model, payload = load_checkpoint(checkpoint)
    tracks = TrackScanner(data).scan()
    clips = validation_clips(tracks, clip_seconds, clip_count, model.config.stft.sample_rate)
    started = time.time()
    references = reference_scores(clips, model.config.stft)
    score = model_score(model, clips)
    print(f"{data}: {len(tracks)} tracks, {len(clips)} clips; model {score:.2f} dB, mixture "
          f"{references['mixture']:.2f} dB, oracle IRM {references['oracle_irm']:.2f} dB "
          f"(epoch {payload['epoch']}) [{time.time() - started:.0f} s]")


if __name__ == "__main__":
    main(sys.argv[1:])
