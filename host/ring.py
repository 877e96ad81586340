"""`AudioRing`: the one pre-allocated audio ring buffer of the runtime.

Used by the streaming separator (hop assembly, output queue), the dry-path delay line and the live
worker's two hand-over rings. Nothing allocates per call. The two counters only grow: `_written` is
advanced by the producer alone and `_read` by the consumer alone, each after its copy, so one producer
thread and one consumer thread may share a ring without a lock (an int store is atomic under the GIL).
"""
from __future__ import annotations

import numpy as np
from isovox.core.errors import BufferOverflowError


class AudioRing:
    """A (channels, capacity_samples) float32 ring. `offer`/`take_into` say False when a block does not
    fit or is not there yet (the audio thread's form); `write`/`read_into` raise instead (the streaming
    path, where either means a bug or a block too large)."""

    def __init__(self, channels: int, capacity_samples: int) -> None:
        self._buffer = np.zeros((channels, capacity_samples), dtype=np.float32)
        self.capacity_samples = capacity_samples
        self._written = 0
        self._read = 0

    @property
    def count(self) -> int:
        """Samples held."""
        return self._written - self._read

    def clear(self, zeros: int = 0) -> None:
        """Empty the ring, then hold `zeros` samples of silence (a fixed delay). Not thread-safe."""
        if zeros > self.capacity_samples:
            raise BufferOverflowError(f"{zeros} samples of delay do not fit a ring of {self.capacity_samples}")
        self._written, self._read = zeros, 0
        self._buffer[:, :zeros] = 0.0

    def offer(self, block: np.ndarray) -> bool:
        """Append (channels, n) samples; False (nothing written) when they do not fit."""
        n = block.shape[1]
        if n > self.capacity_samples - self.count:
            return False
        start = self._written % self.capacity_samples
        first = min(n, self.capacity_samples - start)
        self._buffer[:, start:start + first] = block[:, :first]
        self._buffer[:, :n - first] = block[:, first:]
        self._written += n
        return True

    def take_into(self, out: np.ndarray) -> bool:
        """Move the oldest out.shape[1] samples into `out` (channels, n); False (nothing read) when
        fewer are held."""
        n = out.shape[1]
        if n > self.count:
            return False
        start = self._read % self.capacity_samples
        first = min(n, self.capacity_samples - start)
        out[:, :first] = self._buffer[:, start:start + first]
        out[:, first:] = self._buffer[:, :n - first]
        self._read += n
        return True

    def discard(self, n: int) -> int:
        """Drop up to n of the oldest samples (consumer side); returns how many were dropped."""
        dropped = min(n, self.count)
        self._read += dropped
        return dropped

    def write(self, block: np.ndarray) -> None:
        """`offer`, raising `BufferOverflowError` when the block does not fit."""
        if not self.offer(block):
            raise BufferOverflowError(f"audio ring overflow: {self.count + block.shape[1]} samples > capacity "
                                      f"{self.capacity_samples}; use smaller blocks")

    def read_into(self, out: np.ndarray) -> None:
        """`take_into`, raising `BufferOverflowError` when fewer than out.shape[1] samples are held."""
        if not self.take_into(out):
            raise BufferOverflowError(f"audio ring underrun: {out.shape[1]} samples asked, {self.count} held")
