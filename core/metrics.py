"""Separation quality metrics (numpy; museval is imported only by `sdr_museval`).

- `sdr_museval`: vocals SDR by BSS Eval v4 (museval), the MUSDB18 convention — 1 s frames, 1 s hop,
  median over frames — evaluated jointly for the two sources (vocals, accompaniment), where the
  accompaniment reference and estimate are the mixture minus the vocals (reference resp. estimate).
- `si_sdr`: scale-invariant SDR of one whole (channels, samples) signal.
- `sdr_db`: plain SDR of one whole signal (no scale allowed); `sdr_along_samples_db` is its per-row
  form for numpy or torch arrays, which the training loss uses.
- `median_over_tracks`: the MUSDB18 aggregate (median of per-track medians, NaN tracks ignored).

Audio arrays are ``(channels, samples)`` float (``(samples,)`` is taken as one channel).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import AudioDataError, ToolMissingError

EPS = 1e-12


@dataclass(frozen=True)
class MusevalScores:
    """Vocals scores of one track: medians over 1 s frames (NaN frames, i.e. silent ones, ignored).

    `sdr_frames` keeps the per-frame vocals SDR in dB (NaN where museval skipped a silent frame)."""

    sdr: float
    sir: float
    sar: float
    isr: float
    sdr_frames: tuple[float, ...]


def _as_channels(audio: np.ndarray, name: str) -> np.ndarray:
    """(samples,) or (channels, samples) → (channels, samples) float64."""
    array = np.asarray(audio, dtype=np.float64)
    if array.ndim == 1:
        array = array[np.newaxis]
    if array.ndim != 2 or array.shape[1] == 0:
        raise AudioDataError(f"{name} has shape {np.shape(audio)}; expected (channels, samples) or (samples,)")
    if not np.all(np.isfinite(array)):
        raise AudioDataError(f"{name} contains NaN or infinite samples; pass finite audio")
    return array


def _same_shape(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, est = _as_channels(reference, "reference"), _as_channels(estimate, "estimate")
    if ref.shape != est.shape:
        raise AudioDataError(f"reference {ref.shape} and estimate {est.shape} differ in shape; "
                             "pass (channels, samples) arrays of the same channels and length")
    return ref, est


def si_sdr(reference: np.ndarray, estimate: np.ndarray, zero_mean: bool = True) -> float:
    """Scale-invariant SDR in dB of `estimate` against `reference` (same (channels, samples) shape).

    One optimal scale for the whole signal: 10·log10(‖αs‖² / ‖αs − ŝ‖²), α = ⟨ŝ, s⟩ / ‖s‖².
    Returns +inf for a perfect (scaled) estimate and NaN for a silent reference."""
    ref, est = _same_shape(reference, estimate)
    if zero_mean:
        ref = ref - ref.mean(axis=1, keepdims=True)
        est = est - est.mean(axis=1, keepdims=True)
    ref_energy = float(np.sum(ref * ref))
    if ref_energy <= EPS:
        return float("nan")
    target = (float(np.sum(est * ref)) / ref_energy) * ref
    noise_energy = float(np.sum((est - target) ** 2))
    if noise_energy <= 0.0:
        return float("inf")
    return float(10.0 * np.log10(max(float(np.sum(target * target)), EPS) / noise_energy))


def sdr_along_samples_db(reference, estimate, floor: float = 1e-20, log10=np.log10):
    """Plain SDR 10·log10((Σs² + floor) / (Σ(s − ŝ)² + floor)) in dB along the last axis (samples):
    (…, samples) → (…). numpy or torch arrays; pass ``log10=torch.log10`` to keep the gradient."""
    signal = (reference ** 2).sum(-1) + floor
    error = ((reference - estimate) ** 2).sum(-1) + floor
    return 10.0 * log10(signal / error)


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Plain SDR in dB of a whole (channels, samples) estimate over all channels: unlike `si_sdr`
    and BSS Eval no gain or filter is allowed, so it measures how close two renderings are."""
    reference = np.asarray(reference, dtype=np.float64)
    return float(sdr_along_samples_db(reference.reshape(-1), np.asarray(estimate).reshape(-1)))


def _import_museval():
    try:
        import museval
    except ImportError:
        raise ToolMissingError("museval is not installed, so BSS Eval SDR cannot be computed; "
                               "install it with `pip install isovox[train]` (or `pip install museval`)") from None
    return museval


def sdr_museval(reference: np.ndarray, estimate: np.ndarray, sample_rate: int,
                mixture: np.ndarray | None = None) -> MusevalScores:
    """Vocals BSS Eval v4 scores (dB) of `estimate` against `reference`, MUSDB18 style.

    reference, estimate, mixture: (channels, samples) at `sample_rate` Hz. With `mixture` the
    evaluation is MUSDB18's two-source one: references (vocals, mixture − vocals), estimates
    (estimate, mixture − estimate), so SIR measures accompaniment leaking into the vocals. Without
    it (or when the estimate is the mixture itself) only the vocals are evaluated: the vocals SDR
    is the same, SIR and SAR are then not the two-source ones.
    Frames are 1 s long with a 1 s hop; a frame where a source is silent scores NaN and is ignored
    by the medians."""
    ref, est = _same_shape(reference, estimate)
    if sample_rate <= 0:
        raise AudioDataError(f"sample_rate {sample_rate} must be positive")
    for name, array in (("reference", ref), ("estimate", est)):
        if not np.any(array):
            raise AudioDataError(f"the {name} vocals are all zeros, which BSS Eval cannot score; "
                                 "evaluate a clip that has vocals (and a non-silent estimate)")
    museval = _import_museval()
    references, estimates = ref.T[np.newaxis], est.T[np.newaxis]
    if mixture is not None:
        mix = _as_channels(mixture, "mixture")
        if mix.shape != ref.shape:
            raise AudioDataError(f"mixture {mix.shape} differs in shape from reference {ref.shape}; "
                                 "pass the mixture the reference vocals belong to")
        # an all-zero accompaniment (estimate = mixture, the floor) makes the 2-source system
        # underdetermined; the vocals SDR does not depend on it, so score the vocals alone then
        if np.any(mix - ref) and np.any(mix - est):
            references = np.stack([ref.T, (mix - ref).T])
            estimates = np.stack([est.T, (mix - est).T])
    window = int(sample_rate)  # 1 s frames and hop: the SiSEC18 / MUSDB18 convention
    sdr, isr, sir, sar = museval.evaluate(references, estimates, win=window, hop=window, mode="v4")
    return MusevalScores(sdr=median_over_tracks(sdr[0]), sir=median_over_tracks(sir[0]),
                         sar=median_over_tracks(sar[0]), isr=median_over_tracks(isr[0]),
                         sdr_frames=tuple(float(v) for v in sdr[0]))


def median_over_tracks(values: list[float] | np.ndarray) -> float:
    """Median ignoring NaN (silent frames; tracks without a scorable frame); NaN if nothing is left.
    Used for the median over frames of one track as well as the median over tracks."""
    array = np.asarray(values, dtype=np.float64)
    scored = array[~np.isnan(array)]
    return float(np.median(scored)) if scored.size else float("nan")
