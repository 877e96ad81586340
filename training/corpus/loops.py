"""Find the period of a track that repeats one loop, so a pool keeps the loop once, not 10 times.

Log band energies (0.25 s frames) of the mono signal at 8 kHz; the period is the shortest lag of at least 20 s
at which the rest of the track matches itself that far back (mean cosine similarity ≥ 0.98 over the
frames that sound). Tracks that only resemble themselves (same instruments, new notes) score ≤ 0.8.
"""
from __future__ import annotations

import numpy as np
import soxr

ANALYSIS_RATE = 8000
HOP_SECONDS = 0.25
MIN_PERIOD_SECONDS = 20.0
MATCH = 0.98
BANDS = 48


def _features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, bands) unit-norm log energies in 48 log-spaced bands (60 Hz–4 kHz), each frame's mean
    removed so that only the spectral shape counts."""
    mono = soxr.resample(np.atleast_2d(audio).mean(axis=0), sample_rate, ANALYSIS_RATE).astype(np.float32)
    n_fft, hop = 2 * round(HOP_SECONDS * ANALYSIS_RATE), round(HOP_SECONDS * ANALYSIS_RATE)
    if mono.size < n_fft:
        return np.zeros((0, BANDS), np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / ANALYSIS_RATE)
    band = np.digitize(freqs, np.geomspace(60.0, ANALYSIS_RATE / 2, BANDS + 1)) - 1
    grouping = (band[:, None] == np.arange(BANDS)[None, :]).astype(np.float32)  # (bins, bands)
    band_power = power @ grouping
    energies = np.log(band_power + 1e-6)
    energies -= energies.mean(axis=1, keepdims=True)
    energies /= np.linalg.norm(energies, axis=1, keepdims=True) + 1e-9
    total = band_power.sum(axis=1)
    energies[total < total.max() * 1e-6] = 0.0  # silent frames (60 dB down) match nothing and are skipped
    return energies


def loop_period_seconds(audio: np.ndarray, sample_rate: int) -> float | None:
    """The loop period in seconds if the track repeats itself exactly from some lag on, else None."""
    frames = _features(audio, sample_rate)
    n = len(frames)
    min_lag = round(MIN_PERIOD_SECONDS / HOP_SECONDS)
    if n < 2 * min_lag:
        return None
    similarity = frames @ frames.T
    sounding = np.any(frames != 0.0, axis=1)
    for lag in range(min_lag, n // 2 + 1):
        both = sounding[lag:] & sounding[:-lag]
        if both.mean() > 0.5 and float(np.diagonal(similarity, -lag)[both].mean()) >= MATCH:
            return lag * HOP_SECONDS
    return None
