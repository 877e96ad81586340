"""Model input features: log-magnitude of the model bins (numpy; mirrored in torch for training)."""
from __future__ import annotations

import numpy as np

from .stft import StftConfig

LOG_FLOOR = 1e-5  # magnitude floor before log: about -100 dB under a full-scale sine's peak bin


def log_magnitude(spectrum: np.ndarray, stft_config: StftConfig) -> np.ndarray:
    """(…, spectrum_bins, frames) complex → (…, model_bins, frames) float32 log(|X| + floor)."""
    magnitude = np.abs(spectrum[..., : stft_config.model_bins, :])
    return np.log(magnitude + LOG_FLOOR).astype(np.float32)
