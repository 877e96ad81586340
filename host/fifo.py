"""A pre-allocated single-thread audio FIFO (ring buffer) for the streaming path: no allocation per call."""
from __future__ import annotations

import numpy as np
from isovox.core.errors import AudioDataError


class AudioFifo:
    """Ring buffer of (channels, capacity_samples) float32; `write` and `read_into` copy, never allocate."""

    def __init__(self, channels: int, capacity_samples: int):
        self._buffer = np.zeros((channels, capacity_samples), dtype=np.float32)
        self._capacity = capacity_samples
        self._read = 0       # index of the oldest sample
        self._count = 0      # samples held

    @property
    def count(self) -> int:
        return self._count

    def clear(self, zeros: int = 0) -> None:
        """Empty the FIFO, then hold `zeros` samples of silence (a fixed delay)."""
        self._read, self._count = 0, 0
        if zeros:
            self._buffer[:, :zeros] = 0.0
            self._count = zeros

    def write(self, samples: np.ndarray) -> None:
        """Append (channels, n) samples; raise `AudioDataError` if they do not fit."""
        n = samples.shape[1]
        if self._count + n > self._capacity:
            raise AudioDataError(f"audio FIFO overflow: {self._count + n} samples > capacity "
                                 f"{self._capacity}; use smaller blocks")
        start = (self._read + self._count) % self._capacity
        first = min(n, self._capacity - start)
        self._buffer[:, start:start + first] = samples[:, :first]
        if first < n:
            self._buffer[:, :n - first] = samples[:, first:]
        self._count += n

    def read_into(self, out: np.ndarray) -> None:
        """Move the oldest out.shape[1] samples into `out` (channels, n); raise if fewer are held."""
        n = out.shape[1]
        if n > self._count:
            raise AudioDataError(f"audio FIFO underrun: {n} samples asked, {self._count} held")
        first = min(n, self._capacity - self._read)
        out[:, :first] = self._buffer[:, self._read:self._read + first]
        if first < n:
            out[:, first:] = self._buffer[:, :n - first]
        self._read = (self._read + n) % self._capacity
        self._count -= n
