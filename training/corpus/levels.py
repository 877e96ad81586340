"""Levels in numpy alone (no pedalboard), shared by the corpus mixer, the pool sampler and the suite."""
from __future__ import annotations

import numpy as np


def db_to_gain(x: float | np.ndarray) -> float | np.ndarray:
    """Amplitude factor of `x` dB."""
    return 10.0 ** (x / 20.0)


def rms(x: np.ndarray) -> float:
    """Root-mean-square level of any array (0 for an empty one), in float64."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
