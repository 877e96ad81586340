"""Click-free parameter changes and the latency-matched dry path, without allocating per block.

`LinearRamp` moves a gain to a new target over a fixed number of samples; `DelayLine` delays the dry
signal by the separator's latency so a wet/dry mix or a bypass never shifts time or combs;
`DryWetMixer` combines both: ``out = dry(t - latency) * (1 - g) + wet * g`` with ``g = wet`` (0..1),
or ``g = 0`` while bypassed, every change of ``g`` ramped. All `process`/`fill` methods write into
caller-provided, pre-allocated arrays, so they are safe in an audio callback.
"""
from __future__ import annotations

import numpy as np
from isovox.core.errors import AudioDataError

from .ring import AudioRing

DEFAULT_RAMP_SECONDS = 0.005


class LinearRamp:
    """A gain that reaches each new target linearly in `ramp_samples` samples.

    `set_target` may be called at any block boundary, also mid-ramp (the new ramp starts from the
    value reached). `snap` jumps to the target (used by `reset()`, never while audio plays).
    """

    def __init__(self, value: float, ramp_samples: int, max_block_samples: int) -> None:
        if ramp_samples < 1:
            raise AudioDataError(f"ramp_samples is {ramp_samples}; expected at least 1")
        self.ramp_samples = int(ramp_samples)
        self.value = float(value)
        self.target = float(value)
        self._step = 0.0
        self._remaining = 0
        self._steps = np.arange(1, max_block_samples + 1, dtype=np.float64)   # 1..max_block

    @property
    def settled(self) -> bool:
        return self._remaining == 0

    def set_target(self, target: float) -> None:
        target = float(target)
        if target == self.target:
            return
        self.target = target
        self._remaining = self.ramp_samples
        self._step = (target - self.value) / self.ramp_samples

    def snap(self) -> None:
        self.value = self.target
        self._remaining = 0

    def fill(self, out: np.ndarray) -> None:
        """Write the next ``len(out)`` gains (one per sample, float) into `out` and advance."""
        samples = out.shape[0]
        ramped = min(self._remaining, samples)
        if ramped:
            np.multiply(self._steps[:ramped], self._step, out=out[:ramped])
            out[:ramped] += self.value
            self._remaining -= ramped
            self.value = self.target if self._remaining == 0 else self.value + self._step * ramped
        out[ramped:] = self.value


class DelayLine:
    """Delays (channels, samples) blocks by `delay_samples`; starts filled with silence.

    An `AudioRing` holding the delay's worth of samples: each block goes in, the block as old comes
    out. Blocks up to `max_block_samples` long; `reset()` clears the stored audio.
    """

    def __init__(self, channels: int, delay_samples: int, max_block_samples: int) -> None:
        if delay_samples < 0:
            raise AudioDataError(f"delay_samples is {delay_samples}; expected 0 or more")
        self.delay_samples = int(delay_samples)
        self.max_block_samples = int(max_block_samples)
        self._ring = AudioRing(channels, self.delay_samples + self.max_block_samples)
        self.reset()

    def reset(self) -> None:
        self._ring.clear(self.delay_samples)

    def process(self, block: np.ndarray, out: np.ndarray) -> None:
        """Write `block` (channels, n) in, the block from `delay_samples` ago into `out` (channels, n)."""
        if block.shape[1] > self.max_block_samples:
            raise AudioDataError(f"block of {block.shape[1]} samples exceeds max_block_samples "
                                 f"{self.max_block_samples}; split it or raise the maximum")
        self._ring.write(block)
        self._ring.read_into(out)


class DryWetMixer:
    """Mixes the latency-delayed dry input with the wet (separated) signal under a ramped gain.

    `wet` (0..1) and `bypass` may change at any block boundary; each change ramps over
    `ramp_samples`. `reset()` clears the dry delay line and jumps the gain to its target.
    """

    def __init__(self, channels: int, latency_samples: int, max_block_samples: int,
                 ramp_samples: int, wet: float = 1.0, bypass: bool = False) -> None:
        self.channels = channels
        self.max_block_samples = max_block_samples
        self._wet = check_wet(wet)
        self._bypass = bool(bypass)
        self.delay = DelayLine(channels, latency_samples, max_block_samples)
        self.gain = LinearRamp(self._target(), ramp_samples, max_block_samples)
        self._gains = np.zeros(max_block_samples, dtype=np.float32)
        self._dry = np.zeros((channels, max_block_samples), dtype=np.float32)

    @property
    def wet(self) -> float:
        return self._wet

    @wet.setter
    def wet(self, value: float) -> None:
        self._wet = check_wet(value)
        self.gain.set_target(self._target())

    @property
    def bypass(self) -> bool:
        return self._bypass

    @bypass.setter
    def bypass(self, value: bool) -> None:
        self._bypass = bool(value)
        self.gain.set_target(self._target())

    def _target(self) -> float:
        return 0.0 if self._bypass else self._wet

    def reset(self) -> None:
        self.delay.reset()
        self.gain.snap()

    def process(self, dry: np.ndarray, wet: np.ndarray, out: np.ndarray) -> None:
        """out (channels, n) = delayed dry * (1 - g) + wet * g; `out` may be `wet` itself."""
        samples = dry.shape[1]
        gains = self._gains[:samples]
        delayed = self._dry[:, :samples]
        self.delay.process(dry, delayed)
        self.gain.fill(gains)
        if self.gain.value == 1.0 and gains[0] == 1.0:   # fully wet and settled: the common case
            if out is not wet:
                out[:, :samples] = wet
            return
        if self.gain.value == 0.0 and gains[0] == 0.0:   # bypassed and settled
            out[:, :samples] = delayed
            return
        # out = delayed + (wet - delayed) * g, computed in place
        np.subtract(wet, delayed, out=out[:, :samples])
        out[:, :samples] *= gains
        out[:, :samples] += delayed


def check_wet(value: float) -> float:
    """`value` as a float in 0..1, or `AudioDataError` saying the allowed range."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise AudioDataError(f"wet is {value}; expected a value from 0.0 (dry) to 1.0 (vocals only)")
    return value
