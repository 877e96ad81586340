"""The live per-block processing, independent of sounddevice (so it is testable without a device).

`LiveEngine.process(dry, out)`: MIDI applied at the block boundary, meters, separation, the
latency-matched dry/wet mix, optional pedalboard effects. `LiveStats`: the counters and meters the
audio thread writes and the UI thread reads.
"""
from __future__ import annotations

import numpy as np

from .midi import MidiControl
from .smoothing import DEFAULT_RAMP_SECONDS, DryWetMixer

PEAK_HOLD_SECONDS = 0.3


class LiveStats:
    """Counters and meters. Written by the audio thread (or the worker), read by the UI thread."""

    def __init__(self) -> None:
        self.callbacks = 0
        self.flagged_callbacks = 0         # callbacks PortAudio flagged with any over/underflow
        self.blocks_processed = 0
        self.input_overflow = 0
        self.input_underflow = 0
        self.output_underflow = 0
        self.output_overflow = 0
        self.ring_underruns = 0            # worker mode: the callback found no separated block ready
        self.ring_overruns = 0             # worker mode: the input ring was full (worker too slow)
        self.errors = 0
        self.last_error = ""
        self.input_peak = 0.0
        self.output_peak = 0.0
        self.dsp_load = 0.0                # last block: processing time / block duration
        self.dsp_load_max = 0.0
        self._dsp_load_sum = 0.0
        self.device_latency_seconds = float("nan")   # PortAudio: output DAC time - input ADC time
        self.wet = 1.0
        self.bypass = False

    @property
    def dropped_blocks(self) -> int:
        """Callbacks PortAudio flagged (one per callback, whatever the flags) plus worker-ring
        under/overruns."""
        return self.flagged_callbacks + self.ring_underruns + self.ring_overruns

    @property
    def dsp_load_mean(self) -> float:
        return self._dsp_load_sum / self.blocks_processed if self.blocks_processed else 0.0


class LiveEngine:
    """The per-block processing, independent of sounddevice (so it is testable without a device).

    `process(dry, out)`: dry (channels, n) input → out (channels, n): MIDI applied at the block
    boundary, separation, wet/dry with the dry path delayed by the separator's latency (ramped),
    then `fx` (a `Chain` or pedalboard plugin, streaming with reset=False).
    """

    def __init__(self, separator, midi: MidiControl | None = None, fx=None, wet: float = 1.0,
                 bypass: bool = False, max_block_samples: int = 4096,
                 ramp_seconds: float = DEFAULT_RAMP_SECONDS) -> None:
        self.separator = separator
        self.midi = midi
        self.fx = fx
        self.sample_rate = separator.sample_rate
        self.channels = separator.channels
        self.max_block_samples = max_block_samples
        if midi is not None:
            midi.wet, midi.bypass = wet, bypass
        self.mixer = DryWetMixer(self.channels, separator.latency_samples, max_block_samples,
                                 max(1, round(ramp_seconds * self.sample_rate)), wet, bypass)
        self.mixer.reset()
        self.stats = LiveStats()
        self.stats.wet, self.stats.bypass = wet, bypass
        self._wet = np.zeros((self.channels, max_block_samples), np.float32)
        self._mix = np.zeros((self.channels, max_block_samples), np.float32)
        self._input_hold = 0
        self._output_hold = 0

    @property
    def latency_samples(self) -> int:
        """Input-to-output delay of the processing itself (the separator's; effects add none)."""
        return self.separator.latency_samples

    def process(self, dry: np.ndarray, out: np.ndarray) -> None:
        """dry, out: (channels, n) float32, n <= max_block_samples."""
        samples = dry.shape[1]
        stats = self.stats
        if self.midi is not None and self.midi.drain():
            self.mixer.wet = self.midi.wet
            self.mixer.bypass = self.midi.bypass
            stats.wet, stats.bypass = self.midi.wet, self.midi.bypass
        hold_blocks = PEAK_HOLD_SECONDS * self.sample_rate / samples
        peak = max(float(dry.max()), -float(dry.min()))
        self._input_hold -= 1
        if peak >= stats.input_peak or self._input_hold <= 0:
            stats.input_peak, self._input_hold = peak, hold_blocks
        wet = self.separator.process(dry, out=self._wet[:, :samples])
        mixed = self._mix[:, :samples]
        self.mixer.process(dry, wet, mixed)
        if self.fx is not None:
            out[:] = self.fx.process(mixed, self.sample_rate, reset=False)
        else:
            out[:] = mixed
        peak = max(float(out.max()), -float(out.min()))
        self._output_hold -= 1
        if peak >= stats.output_peak or self._output_hold <= 0:
            stats.output_peak, self._output_hold = peak, hold_blocks
