"""Level and band helpers for recorded audio: silence trimming, peak normalisation, band-edge estimate.

All take (channels, samples) float32 or (samples,) arrays and never modify their input.
"""
from __future__ import annotations

import numpy as np

from .levels import db_to_gain

FRAME_SECONDS = 0.02
HOP_SECONDS = 0.005
BAND_EDGE_FFT = 4096
BAND_EDGE_RANGE_DB = 70.0  # the band edge: highest frequency within this range of the spectrum's peak


def frame_rms_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level in dBFS of 20 ms frames every 5 ms, over all channels: (frames,)."""
    mono_power = np.mean(np.atleast_2d(audio).astype(np.float64) ** 2, axis=0)
    frame, hop = max(1, round(FRAME_SECONDS * sample_rate)), max(1, round(HOP_SECONDS * sample_rate))
    if mono_power.size < frame:
        return 10 * np.log10(np.array([mono_power.mean() if mono_power.size else 0.0]) + 1e-20)
    csum = np.concatenate([[0.0], np.cumsum(mono_power)])
    starts = np.arange(0, mono_power.size - frame + 1, hop)
    return 10 * np.log10((csum[starts + frame] - csum[starts]) / frame + 1e-20)


def active_span(audio: np.ndarray, sample_rate: int, top_db: float, floor_dbfs: float = -70.0,
                margin_seconds: float = 0.02) -> tuple[int, int] | None:
    """(start, stop) samples from the first to the last frame louder than both `top_db` below the
    loudest frame and `floor_dbfs`, widened by `margin_seconds`; None if nothing is that loud."""
    levels = frame_rms_db(audio, sample_rate)
    loud = np.nonzero(levels > max(levels.max() - top_db, floor_dbfs))[0]
    if loud.size == 0:
        return None
    n = np.atleast_2d(audio).shape[1]
    hop, frame = round(HOP_SECONDS * sample_rate), round(FRAME_SECONDS * sample_rate)
    margin = round(margin_seconds * sample_rate)
    start = max(0, int(loud[0]) * hop - margin)
    stop = min(n, int(loud[-1]) * hop + frame + margin)
    return start, stop


def peak_normalise(audio: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """A copy scaled so that its largest absolute sample is `peak_dbfs` (silence stays silence)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0.0:
        return audio.astype(np.float32, copy=True)
    return (audio * (db_to_gain(peak_dbfs) / peak)).astype(np.float32)


def limit_peak(audio: np.ndarray, max_peak: float = 0.999) -> tuple[np.ndarray, float]:
    """`audio` scaled down only if it would clip in 16-bit PCM; returns (audio, gain applied)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= max_peak:
        return audio, 1.0
    gain = max_peak / peak
    return (audio * gain).astype(np.float32), gain


def band_edge_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Highest frequency where the long-term average spectrum is within 70 dB of its peak: the real
    upper band edge of a recording (a codec's low-pass or a low original rate), in Hz."""
    x = np.atleast_2d(audio).astype(np.float32)
    n, hop = BAND_EDGE_FFT, BAND_EDGE_FFT // 2
    if x.shape[1] < n:
        x = np.pad(x, ((0, 0), (0, n - x.shape[1])))
    frames = np.lib.stride_tricks.sliding_window_view(x, n, axis=1)[:, ::hop]  # (channels, frames, n)
    frames = frames[:, :: max(1, frames.shape[1] // 2000)]  # ≤ ~2000 frames per channel is plenty
    power = (np.abs(np.fft.rfft(frames * np.hanning(n).astype(np.float32), axis=2)) ** 2).mean(axis=(0, 1))
    power = np.convolve(power, np.ones(9) / 9, mode="same")  # smooth over ~100 Hz (linear power)
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    level_db = 10 * np.log10(power + 1e-30)
    peak_db = level_db[freqs >= 50.0].max()
    within = np.nonzero(level_db >= peak_db - BAND_EDGE_RANGE_DB)[0]
    return float(freqs[within[-1]])
