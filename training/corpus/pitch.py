"""Pitch of rendered voices: a fast f0 estimate, and vibrato/drift added by time-varying resampling.

numpy only: `librosa.yin` spends ~6 s compiling in every new worker process, longer than a whole line.
"""
from __future__ import annotations

import numpy as np
from isovox.training.corpus.compose import Note

FRAME_S = 0.04
HOP_S = 0.01


def f0_track_hz(audio: np.ndarray, sample_rate: int, fmin_hz: float = 60.0, fmax_hz: float = 1000.0,
                clarity: float = 0.6) -> np.ndarray:
    """F0 per 10 ms frame (NaN where unvoiced) from the normalised autocorrelation. (samples,) -> (frames,)."""
    frame, hop = round(FRAME_S * sample_rate), round(HOP_S * sample_rate)
    if audio.size < frame:
        return np.full(0, np.nan)
    frames = np.lib.stride_tricks.sliding_window_view(audio.astype(np.float64), frame)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(frames, 2 * frame, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame]
    energy = np.cumsum(frames[:, ::-1] ** 2, axis=1)[:, ::-1]  # energy[:, k] = sum of x[k:]**2
    lag_min, lag_max = int(sample_rate / fmax_hz), min(int(sample_rate / fmin_hz), frame - 2)
    lags = np.arange(lag_min, lag_max + 1)
    head = np.cumsum(frames ** 2, axis=1)[:, frame - 1 - lags]  # sum of x[:frame - k]**2
    nacf = acf[:, lags] / np.sqrt(head * energy[:, lags] + 1e-20)
    best = nacf.max(axis=1)
    # the peak of the first lobe close to the best: a multiple of the period would be an octave too low
    near = nacf >= 0.9 * best[:, None]
    index = np.arange(lags.size)
    first = np.argmax(near, axis=1)[:, None]
    past = (index > first) & ~near
    end = np.where(past.any(axis=1), np.argmax(past, axis=1), lags.size)[:, None]
    pick = np.argmax(np.where((index >= first) & (index < end), nacf, -np.inf), axis=1)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    voiced = (best > clarity) & (rms > 0.05 * rms.max() if rms.size else False)
    k = np.clip(pick, 1, lags.size - 2)
    rows = np.arange(k.size)
    a, b, c = nacf[rows, k - 1], nacf[rows, k], nacf[rows, k + 1]
    offset = np.where(pick == k, 0.5 * (a - c) / np.where(np.abs(a - 2 * b + c) > 1e-12, a - 2 * b + c, 1.0), 0.0)
    lag = lags[pick] + np.clip(offset, -0.5, 0.5)
    return np.where(voiced, sample_rate / lag, np.nan)


def median_f0_hz(audio: np.ndarray, sample_rate: int, fmin_hz: float = 60.0, fmax_hz: float = 1000.0) -> float:
    """Median f0 in Hz over the voiced frames; NaN when nothing is voiced."""
    track = f0_track_hz(audio, sample_rate, fmin_hz, fmax_hz)
    return float(np.nanmedian(track)) if np.isfinite(track).any() else float("nan")


def add_vibrato(audio: np.ndarray, sample_rate: int, notes: list[Note], rng: np.random.Generator,
                depth_semitones: float, drift_semitones: float) -> np.ndarray:
    """Vibrato on notes longer than 0.35 s (fading in after the onset) plus a slow pitch drift.

    The voice is read at a speed of 2**(deviation/12): cheap, deterministic given `rng`, and the
    deviation has zero mean, so the notes stay on their beats (drift moves them by a few ms).
    `notes` are times in seconds from the start of `audio`. Returns a new array, same length.
    """
    n = audio.size
    t_s = np.arange(n) / sample_rate
    deviation = np.zeros(n)
    rate_hz = float(rng.uniform(4.5, 6.5))
    for note in notes:
        onset_s = note.start_s + min(0.25, 0.4 * note.dur_s)
        end_s = note.start_s + note.dur_s
        if note.dur_s < 0.35 or depth_semitones <= 0:
            continue
        a, b = round(onset_s * sample_rate), min(round(end_s * sample_rate), n)
        if b <= a:
            continue
        local = t_s[a:b] - onset_s
        envelope = np.minimum(local / 0.3, 1.0) * np.minimum((end_s - t_s[a:b]) / 0.05, 1.0)
        wobble = 1.0 + 0.15 * np.sin(2 * np.pi * 0.7 * local + float(rng.uniform(0, 2 * np.pi)))
        deviation[a:b] += depth_semitones * envelope * wobble * np.sin(2 * np.pi * rate_hz * local)
    if drift_semitones > 0 and n > 1:
        knots = rng.normal(0.0, drift_semitones, int(t_s[-1] * 2) + 2)  # one value every 0.5 s
        deviation += np.interp(t_s, np.arange(knots.size) * 0.5, knots - knots.mean())
    position = np.cumsum(2.0 ** (deviation / 12.0)) - 1.0
    return np.interp(np.minimum(position, n - 1), np.arange(n), audio).astype(np.float32)
