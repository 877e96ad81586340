"""Aligning a seed-layout pair: find where an a cappella sits inside its full mix, and at what gain.

The seed data set stores `<name>.wav` (the mix) beside `<name>.acapella.wav` (the isolated vocals),
often trimmed or padded differently and at another level. The offset is the peak of the FFT-based
cross-correlation of the two mono signals (computed on a 4× decimated copy, then refined at the full
rate around that peak); the gain is the least-squares fit of the shifted a cappella to the mix. Two
checks reject pairs that do not belong together: the correlation peak must stand clearly above the
correlation noise floor, and the fitted vocals must remove a real share of the mix energy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DECIMATION = 4            # coarse search rate divisor (44.1 kHz → 11 kHz): plenty for vocals
REFINE_SAMPLES = 64       # ± full-rate search around the coarse peak
REFINE_SECONDS = 20.0     # refine on this much of the a cappella (its loudest part)
MIN_PEAK_TO_NOISE = 8.0   # correlation peak / robust noise level of the correlation
MIN_EXPLAINED = 0.01      # fitted vocals must remove at least 1 % of the mix energy


@dataclass(frozen=True)
class Alignment:
    """`vocals_in_mix[n] = gain * acapella[n - offset_samples]`; quality figures for the report."""

    offset_samples: int
    gain: float
    peak_to_noise: float     # correlation peak over the correlation noise floor
    explained: float         # share of the mix energy removed by subtracting the fitted vocals
    ok: bool
    reason: str = ""


def _xcorr(mix: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Full cross-correlation c[k] = sum_n mix[n] other[n - k] by FFT; index k + len(other) - 1."""
    size = 1 << int(np.ceil(np.log2(len(mix) + len(other) - 1)))
    spec = np.fft.rfft(mix, size) * np.conj(np.fft.rfft(other, size))
    full = np.fft.irfft(spec, size)
    # lags -(len(other)-1) … len(mix)-1 laid out contiguously
    return np.concatenate([full[size - (len(other) - 1):], full[: len(mix)]])


def _shifted(signal: np.ndarray, offset: int, length: int) -> np.ndarray:
    """signal delayed by `offset` samples (negative: advanced), cut/zero-padded to `length`."""
    out = np.zeros(length, dtype=np.float64)
    src_start, dst_start = max(0, -offset), max(0, offset)
    count = min(len(signal) - src_start, length - dst_start)
    if count > 0:
        out[dst_start:dst_start + count] = signal[src_start:src_start + count]
    return out


def align(mix: np.ndarray, acapella: np.ndarray, sample_rate: int) -> Alignment:
    """Align mono `acapella` (samples,) inside mono `mix` (samples,). Never raises on bad pairs:
    `ok` is False and `reason` says why; the caller warns and skips the pair."""
    mix = np.asarray(mix, dtype=np.float64)
    acapella = np.asarray(acapella, dtype=np.float64)
    if not np.any(acapella) or not np.any(mix):
        return Alignment(0, 0.0, 0.0, 0.0, False, "one of the files is silent")
    # coarse: decimate by block averaging (a crude low-pass, enough to find the peak)
    usable_mix = len(mix) // DECIMATION * DECIMATION
    usable_acap = len(acapella) // DECIMATION * DECIMATION
    coarse_mix = mix[:usable_mix].reshape(-1, DECIMATION).mean(axis=1)
    coarse_acap = acapella[:usable_acap].reshape(-1, DECIMATION).mean(axis=1)
    corr = _xcorr(coarse_mix, coarse_acap)
    magnitude = np.abs(corr)
    peak_index = int(np.argmax(magnitude))
    noise = np.median(magnitude) * 1.4826 + 1e-30  # robust spread of the correlation
    peak_to_noise = float(magnitude[peak_index] / noise)
    coarse_offset = (peak_index - (len(coarse_acap) - 1)) * DECIMATION
    # refine at the full rate around the coarse peak, on the loudest REFINE_SECONDS of the a cappella
    window = min(len(acapella), int(REFINE_SECONDS * sample_rate))
    cumulative = np.concatenate([[0.0], np.cumsum(coarse_acap ** 2)])
    width = max(1, window // DECIMATION)
    block_energy = cumulative[width:] - cumulative[:-width]
    start = int(np.argmax(block_energy)) * DECIMATION if len(block_energy) else 0
    piece = acapella[start:start + window]
    best_offset, best_value = coarse_offset, -np.inf
    for offset in range(coarse_offset - REFINE_SAMPLES, coarse_offset + REFINE_SAMPLES + 1):
        lo = start + offset  # where the piece lands in the mix
        a, b = max(lo, 0), min(lo + len(piece), len(mix))
        if b <= a:
            continue
        value = abs(float(np.dot(mix[a:b], piece[a - lo:b - lo])))
        if value > best_value:
            best_offset, best_value = offset, value
    shifted = _shifted(acapella, best_offset, len(mix))
    energy = float(np.dot(shifted, shifted))
    gain = float(np.dot(mix, shifted) / energy) if energy > 0 else 0.0
    residual = mix - gain * shifted
    explained = float(1.0 - np.dot(residual, residual) / np.dot(mix, mix))
    if peak_to_noise < MIN_PEAK_TO_NOISE:
        return Alignment(best_offset, gain, peak_to_noise, explained, False,
                         f"no clear correlation peak (peak/noise {peak_to_noise:.1f} < {MIN_PEAK_TO_NOISE})")
    if gain <= 0 or explained < MIN_EXPLAINED:
        return Alignment(best_offset, gain, peak_to_noise, explained, False,
                         f"the fitted a cappella removes only {100 * explained:.2f} % of the mix energy "
                         f"(gain {gain:.3f}; expected ≥ {100 * MIN_EXPLAINED:.0f} %)")
    return Alignment(best_offset, gain, peak_to_noise, explained, True)
