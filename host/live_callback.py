"""The sounddevice callback of `isovox live`, in either design, and the worker thread.

- in the callback: the callback separates (`LiveEngine.process`). Latency = the separator's.
- worker: the callback only copies into and out of two `AudioRing`s and wakes a worker thread that
  separates. The model runs once per hop (512 samples), so with blocks smaller than a hop one
  callback in several would carry a whole model step; the worker spreads it, for
  `worker_latency_samples` more latency.

Callback rules: copies between pre-allocated buffers (the separator and pedalboard allocate their
small per-call arrays), no I/O, no lock (the wake-up is a byte on a socket pair: `Event.set()` takes
a lock the worker may hold), never raises: an error silences the output and is counted for the UI
thread. Every status flag PortAudio reports is counted.
"""
from __future__ import annotations

import math
import socket
import threading
import time

import numpy as np

from .live_engine import LiveEngine
from .ring import AudioRing
from .thread_priority import WORKER_PRIORITY, raise_thread_priority

STATUS_FLAGS = ("input_overflow", "input_underflow", "output_underflow", "output_overflow")
WORKER_IDLE_WAIT_SECONDS = 0.1


def worker_latency_samples(hop_samples: int, block_size: int) -> int:
    """What the worker design adds: half a hop rounded up to whole blocks, at least one block.

    The worker gets that long to finish a block after the callback queued it; a model step costs a
    small fraction of a hop (`isovox bench`), so half a hop leaves room for a late wake-up."""
    return max(1, math.ceil(hop_samples / 2 / block_size)) * block_size


class _Wakeup:
    """A lock-free wake-up: `set()` sends one byte on a socket pair (never blocks: a full pipe means
    a wake-up is already pending); `wait()` receives what is there, or times out."""

    def __init__(self) -> None:
        self._send, self._receive = socket.socketpair()
        self._send.setblocking(False)

    def set(self) -> None:
        try:
            self._send.send(b"\0")
        except OSError:
            pass

    def wait(self, timeout_seconds: float) -> None:
        self._receive.settimeout(timeout_seconds)
        try:
            self._receive.recv(4096)
        except (TimeoutError, OSError):
            pass

    def close(self) -> None:
        self._send.close()
        self._receive.close()


class LiveCallback:
    """The sounddevice callback for either design; pre-allocates everything it touches.

    With `worker`, `start()` starts the worker thread and `stop()` ends it."""

    def __init__(self, engine: LiveEngine, block_size: int, worker: bool, worker_latency_samples: int = 0) -> None:
        self.engine = engine
        self.stats = engine.stats
        channels, max_block = engine.channels, engine.max_block_samples
        self._dry = np.zeros((channels, max_block), np.float32)
        self._out = np.zeros((channels, max_block), np.float32)
        self.worker = worker
        self.worker_realtime = False
        self._stopping = False
        if worker:
            capacity = 4 * (block_size + worker_latency_samples + 512)
            self.in_ring = AudioRing(channels, capacity)
            self.out_ring = AudioRing(channels, capacity)
            self.out_ring.clear(worker_latency_samples)         # the added latency, as silence
            self._wakeup = _Wakeup()
            self.thread = threading.Thread(target=self._work, name="isovox-worker", daemon=True)
            self._work_in = np.zeros((channels, block_size), np.float32)
            self._work_out = np.zeros((channels, block_size), np.float32)
            self.block_size = block_size
            # samples the output ring owes (>0: late blocks to drop when they arrive; <0: lost input
            # blocks to answer with silence) so a dropout never changes the latency
            self._owed = 0

    def __call__(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info, status) -> None:
        """sounddevice's callback: indata, outdata (samples, channels); `frames` is its name for the
        block's length in samples."""
        stats = self.stats
        started = time.perf_counter()
        stats.callbacks += 1
        if status:
            stats.flagged_callbacks += 1
            for flag in STATUS_FLAGS:
                if getattr(status, flag):
                    setattr(stats, flag, getattr(stats, flag) + 1)
        try:
            if time_info.inputBufferAdcTime > 0 and time_info.outputBufferDacTime > 0:
                stats.device_latency_seconds = time_info.outputBufferDacTime - time_info.inputBufferAdcTime
            samples = frames
            dry, out = self._dry[:, :samples], self._out[:, :samples]
            np.copyto(dry, indata.T)
            if self.worker:
                self._exchange(dry, out, samples)
                np.copyto(outdata, out.T)
                self._wakeup.set()            # last: the send may hand the GIL to the worker
            else:
                self.engine.process(dry, out)
                self._account(started, samples)
                np.copyto(outdata, out.T)
        except Exception as exc:  # noqa: BLE001 - a callback never raises: silence, count, report
            outdata.fill(0.0)
            stats.errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"

    def _exchange(self, dry: np.ndarray, out: np.ndarray, samples: int) -> None:
        """Worker design: queue the input, take the output `worker_latency_samples` old, keep the
        latency fixed across dropouts (a late block is skipped when it arrives, a lost one is silence)."""
        stats = self.stats
        if not self.in_ring.offer(dry):
            stats.ring_overruns += 1
            self._owed -= samples
        if self._owed > 0:
            self._owed -= self.out_ring.discard(self._owed)
        if self._owed <= -samples:
            out.fill(0.0)
            self._owed += samples
        elif not self.out_ring.take_into(out):
            out.fill(0.0)
            stats.ring_underruns += 1
            self._owed += samples

    def _account(self, started: float, samples: int) -> None:
        stats = self.stats
        load = (time.perf_counter() - started) * self.engine.sample_rate / samples
        stats.dsp_load = load
        stats.dsp_load_max = max(stats.dsp_load_max, load)
        stats._dsp_load_sum += load
        stats.blocks_processed += 1

    def start(self) -> None:
        """Start the worker thread (worker design only)."""
        self.thread.start()

    def stop(self) -> None:
        """End the worker thread and wait for it (a no-op in the callback design)."""
        self._stopping = True
        if self.worker:
            self._wakeup.set()
            if self.thread.is_alive():
                self.thread.join(2.0)
            self._wakeup.close()

    def _work(self) -> None:
        """Worker thread: raise its priority, wait for the callback's wake-up, separate what it queued."""
        self.worker_realtime = raise_thread_priority(WORKER_PRIORITY) is not None
        while not self._stopping:
            self._wakeup.wait(WORKER_IDLE_WAIT_SECONDS)
            self.work_pending()

    def work_pending(self) -> None:
        """Separate every whole block waiting in the input ring (the worker thread's step)."""
        while self.in_ring.count >= self.block_size and not self._stopping:
            started = time.perf_counter()
            self.in_ring.take_into(self._work_in)
            try:
                self.engine.process(self._work_in, self._work_out)
            except Exception as exc:  # noqa: BLE001 - reported by the UI thread
                self._work_out.fill(0.0)
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if not self.out_ring.offer(self._work_out):
                self.stats.ring_overruns += 1
            self._account(started, self.block_size)
