"""Masks: applying a model's mask (or magnitude) to a mixture spectrum, and ideal oracle masks."""
from __future__ import annotations

import numpy as np

EPS = 1e-8


def extend_to_spectrum(model_values: np.ndarray) -> np.ndarray:
    """(…, model_bins, frames) → (…, model_bins + 1, frames): reuse the top bin for Nyquist."""
    return np.concatenate([model_values, model_values[..., -1:, :]], axis=-2)


def apply_mask(mixture: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Soft mask (…, model_bins, frames) in [0, 1] times the complex mixture (…, spectrum_bins, frames).
    The result keeps the mixture's phase."""
    return mixture * extend_to_spectrum(mask)


def apply_magnitude(mixture: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """An estimated magnitude (…, model_bins, frames) with the mixture's phase."""
    phase = mixture / np.maximum(np.abs(mixture), EPS)
    return phase * extend_to_spectrum(magnitude)


def ideal_ratio_mask(vocals: np.ndarray, accompaniment: np.ndarray) -> np.ndarray:
    """Oracle soft mask |V| / (|V| + |A|) from the true stems' spectra (same shapes), in [0, 1]."""
    v, a = np.abs(vocals), np.abs(accompaniment)
    return (v / np.maximum(v + a, EPS)).astype(np.float32)


def apply_output(mixture: np.ndarray, output: np.ndarray, output_kind: str) -> np.ndarray:
    """A model's output (…, model_bins, frames), a "mask" or a "magnitude", on the complex mixture."""
    return apply_mask(mixture, output) if output_kind == "mask" else apply_magnitude(mixture, output)
