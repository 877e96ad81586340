"""Tiny real stem files for training and loader tests: a harmonic 'voice' over chords and noise."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 44100


def voice_and_band(seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(vocals, accompaniment), each (2, samples) float32: a gated vibrato voice with formant-like
    harmonics, and chords plus filtered noise hits — separable by spectral shape and timing."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = rng.uniform(180, 320) * (1 + 0.02 * np.sin(2 * np.pi * rng.uniform(4, 6) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    gate = (np.sin(2 * np.pi * rng.uniform(0.4, 0.9) * t + rng.uniform(0, 6)) > -0.2).astype(float)
    gate = np.convolve(gate, np.ones(400) / 400, mode="same")
    voice = sum(np.sin(k * phase) * np.exp(-((k * 250 - 700) / 900) ** 2) for k in range(1, 16)) * gate
    root = rng.uniform(80, 140)
    chords = sum(np.sin(2 * np.pi * root * r * t + rng.uniform(0, 6)) for r in (1, 1.25, 1.5, 2)) * 0.25
    hits = np.zeros_like(t)
    hits[:: SAMPLE_RATE // 3] = 1.0
    hits = np.convolve(hits, rng.standard_normal(600) * np.exp(-np.arange(600) / 80), mode="same")
    pan = rng.uniform(0.6, 1.0)
    vocals = np.stack([voice, pan * voice]) * 0.2
    band = np.stack([chords + 0.4 * hits, 0.8 * chords + 0.5 * hits]) * 0.3
    return vocals.astype(np.float32), band.astype(np.float32)


def write_musdb(root: Path, tracks: int, seconds: float, split: str | None = "train", seed: int = 0) -> Path:
    """`root/split/<track>/{mixture,vocals,drums,bass,other}.wav` (accompaniment spread over 3 stems)."""
    base = root / split if split else root
    for i in range(tracks):
        vocals, band = voice_and_band(seconds, seed + i)
        folder = base / f"track{i:02d}"
        folder.mkdir(parents=True)
        stems = {"vocals": vocals, "drums": band * 0.5, "bass": band * 0.3, "other": band * 0.2,
                 "mixture": vocals + band}
        for name, audio in stems.items():
            sf.write(folder / f"{name}.wav", audio.T, SAMPLE_RATE, subtype="FLOAT")
    return root
