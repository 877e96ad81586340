"""isovox as a pedalboard-style effect: `VocalIsolator` and `Chain` (pedalboard plugins + isovox stages).

pedalboard cannot host Python code inside a `Pedalboard` (spotify/pedalboard#12), so `Chain` is the
container instead: a list of stages called in order, each either a pedalboard plugin or an isovox
stage, with pedalboard's calling convention ``effect(audio, sample_rate, buffer_size=8192, reset=True)``.

- ``reset=True`` (a whole file): every stage starts clean and its latency is compensated, so the
  output is aligned with the input and has the same length.
- ``reset=False`` (streaming chunks of any size): state carries over between calls and the output
  is delayed by `latency_samples` (call `reset()` before a new stream).

Audio may be (channels, samples) or (samples, channels); the layout is found from the configured
channel count, returned as given, and a square array (ambiguous) is refused, as pedalboard does.
Files through an effect: `effect_files`; the `--fx` parser: `effect_spec`.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from isovox.core.errors import AudioDataError, ConfigMismatchError

from .smoothing import DEFAULT_RAMP_SECONDS, DryWetMixer, check_wet
from .streaming import StreamingSeparator

MAX_BLOCK_SAMPLES = 4096          # internal block: buffer_size is capped to this


def to_channels_first(audio: np.ndarray, channels: int) -> tuple[np.ndarray, bool]:
    """(channels, n) float32 view/copy of `audio` and whether it was (n, channels) (transposed)."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        if channels != 1:
            raise AudioDataError(f"got mono audio of shape {audio.shape} but this effect has {channels} "
                                 "channels; pass (channels, samples) or configure channels=1")
        return audio[np.newaxis].astype(np.float32, copy=False), False
    if audio.ndim != 2:
        raise AudioDataError(f"audio has shape {audio.shape}; expected (channels, samples) or (samples, channels)")
    rows, cols = audio.shape
    if rows == cols:
        raise AudioDataError(f"audio of shape {audio.shape} is ambiguous (square); pass more samples "
                             f"than channels, as (channels, samples) or (samples, channels)")
    if rows == channels:
        return audio.astype(np.float32, copy=False), False
    if cols == channels:
        return audio.T.astype(np.float32, copy=False), True
    raise AudioDataError(f"audio of shape {audio.shape} has no axis of {channels} channels; pass "
                         f"({channels}, samples) or (samples, {channels}), or configure channels={min(audio.shape)}")


def _restore_layout(audio: np.ndarray, transposed: bool, mono: bool) -> np.ndarray:
    if mono:
        return audio[0]
    return np.ascontiguousarray(audio.T) if transposed else audio


class VocalIsolator:
    """Keeps the voice of (channels, samples) float audio: a `StreamingSeparator` plus a dry/wet mix.

    wet: 0.0 (the input, delayed to match) .. 1.0 (vocals only); bypass: pass the input through.
    Both may change between calls; a change ramps over `ramp_seconds` so it never clicks, and the dry
    path is delayed by the separator's latency, so mixing never combs. `reset()` clears the
    separator (model state, FIFOs) and the dry delay line, and jumps the mix to its setting;
    it keeps the model session and the parameters.
    """

    def __init__(self, model: str | os.PathLike = "default", wet: float = 1.0, bypass: bool = False,
                 device: str = "auto", phase: str = "mixture", channels: int = 2,
                 sample_rate: int | None = None, resample: bool = False, intra_op_threads: int = 1,
                 ramp_seconds: float = DEFAULT_RAMP_SECONDS) -> None:
        self.separator = StreamingSeparator(model=model, device=device, phase=phase, sample_rate=sample_rate,
                                            channels=channels, max_block_samples=MAX_BLOCK_SAMPLES,
                                            resample=resample, intra_op_threads=intra_op_threads)
        self.mixer = DryWetMixer(channels, self.separator.latency_samples, MAX_BLOCK_SAMPLES,
                                 max(1, round(ramp_seconds * self.separator.sample_rate)), wet, bypass)
        self.mixer.reset()
        self._wet_block = np.zeros((channels, MAX_BLOCK_SAMPLES), np.float32)

    @property
    def wet(self) -> float:
        return self.mixer.wet

    @wet.setter
    def wet(self, value: float) -> None:
        self.mixer.wet = value

    @property
    def bypass(self) -> bool:
        return self.mixer.bypass

    @bypass.setter
    def bypass(self, value: bool) -> None:
        self.mixer.bypass = value

    @property
    def latency_samples(self) -> int:
        """Streaming (reset=False) output is the input's separation delayed by this many samples."""
        return self.separator.latency_samples

    @property
    def sample_rate(self) -> int:
        return self.separator.sample_rate

    @property
    def channels(self) -> int:
        return self.separator.channels

    def reset(self) -> None:
        self.separator.reset()
        self.mixer.reset()

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192,
                reset: bool = True) -> np.ndarray:
        """Isolate the voice of `input_array`; returns float32 audio of the same shape and layout.

        reset=True: a whole signal, latency compensated (aligned with the input).
        reset=False: the next chunk of a stream, delayed by `latency_samples`.
        """
        _check_rate(sample_rate, self.sample_rate)
        audio, transposed = to_channels_first(input_array, self.channels)
        if reset:
            self.reset()
            padded = np.concatenate(
                [audio, np.zeros((self.channels, self.latency_samples), np.float32)], axis=1)
            out = self._stream(padded, buffer_size)[:, self.latency_samples:]
        else:
            out = self._stream(audio, buffer_size)
        return _restore_layout(out, transposed, np.ndim(input_array) == 1)

    __call__ = process

    def _stream(self, audio: np.ndarray, buffer_size: int) -> np.ndarray:
        step = max(1, min(int(buffer_size), MAX_BLOCK_SAMPLES))
        out = np.empty(audio.shape, np.float32)
        for start in range(0, audio.shape[1], step):
            chunk = audio[:, start:start + step]
            wet = self.separator.process(chunk, out=self._wet_block[:, :chunk.shape[1]])
            self.mixer.process(chunk, wet, out[:, start:start + chunk.shape[1]])
        return out

    def __repr__(self) -> str:
        return (f"VocalIsolator(wet={self.wet}, bypass={self.bypass}, sample_rate={self.sample_rate}, "
                f"channels={self.channels}, latency_samples={self.latency_samples})")


def _is_isovox_stage(stage) -> bool:
    return isinstance(stage, (VocalIsolator, Chain))


def _check_rate(sample_rate: float, expected: int) -> None:
    if round(sample_rate) != expected:
        raise ConfigMismatchError(f"audio at {sample_rate} Hz given to an isovox stage that runs at "
                                  f"{expected} Hz; resample it first (or build the stage with resample=True "
                                  f"and sample_rate={int(sample_rate)})")


class Chain(list):
    """A list of stages run in order: pedalboard plugins (including whole `Pedalboard`s) and isovox
    stages (`VocalIsolator`, nested `Chain`s), with its own wet/dry and bypass.

    ``Chain([HighpassFilter(80), VocalIsolator(), Compressor(), Reverb()])(audio, 44100)``.
    `latency_samples` is the sum of the isovox stages' latencies (pedalboard's plugins that buffer
    internally, such as PitchShift, report none to Python and are not compensated). `channels`
    defaults to the first isovox stage's. `reset()` resets every stage and the dry delay line.
    """

    def __init__(self, stages: Iterable = (), wet: float = 1.0, bypass: bool = False,
                 channels: int | None = None, ramp_seconds: float = DEFAULT_RAMP_SECONDS) -> None:
        super().__init__(stages)
        self._channels = channels
        self.ramp_seconds = ramp_seconds
        self._wet = check_wet(wet)
        self._bypass = bool(bypass)
        self._mixer: DryWetMixer | None = None
        self._wet_block: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"Chain({list.__repr__(self)}, wet={self.wet}, bypass={self.bypass})"

    @property
    def channels(self) -> int:
        if self._channels is not None:
            return self._channels
        return next((stage.channels for stage in self if _is_isovox_stage(stage)), 2)

    @property
    def latency_samples(self) -> int:
        return sum(stage.latency_samples for stage in self if _is_isovox_stage(stage))

    @property
    def sample_rate(self) -> int | None:
        """The first isovox stage's rate (what `process_file` resamples to), None without one."""
        return next((stage.sample_rate for stage in self if _is_isovox_stage(stage)), None)

    @property
    def wet(self) -> float:
        return self._wet

    @wet.setter
    def wet(self, value: float) -> None:
        self._wet = check_wet(value)
        if self._mixer is not None:
            self._mixer.wet = value

    @property
    def bypass(self) -> bool:
        return self._bypass

    @bypass.setter
    def bypass(self, value: bool) -> None:
        self._bypass = bool(value)
        if self._mixer is not None:
            self._mixer.bypass = value

    def reset(self) -> None:
        for stage in self:
            stage.reset()
        self._mixer = None         # rebuilt on the next call for the current latency and channels

    def process(self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192,
                reset: bool = True) -> np.ndarray:
        """Run every stage in order; reset=True: whole signal, aligned; reset=False: a chunk, delayed
        by `latency_samples`. Returns float32 audio in the input's shape and layout."""
        audio, transposed = to_channels_first(input_array, self.channels)
        if reset:
            self.reset()
        wet = audio
        for stage in self:
            # pedalboard plugins and isovox stages share one calling convention
            wet = stage.process(wet, sample_rate, buffer_size=buffer_size, reset=reset)
            if wet.shape != audio.shape:
                raise AudioDataError(f"stage {stage!r} returned {wet.shape[1]} of {audio.shape[1]} samples; "
                                     "stages that buffer latency (e.g. PitchShift) cannot stream in a Chain")
        out = self._mix(audio, np.asarray(wet, np.float32), reset, sample_rate)
        return _restore_layout(out, transposed, np.ndim(input_array) == 1)

    __call__ = process

    def _mix(self, dry: np.ndarray, wet: np.ndarray, aligned: bool, sample_rate: float) -> np.ndarray:
        channels = dry.shape[0]
        latency = 0 if aligned else self.latency_samples
        mixer = self._mixer
        if mixer is None or mixer.channels != channels or mixer.delay.delay_samples != latency:
            mixer = self._mixer = DryWetMixer(channels, latency, MAX_BLOCK_SAMPLES,
                                              max(1, round(self.ramp_seconds * sample_rate)),
                                              self._wet, self._bypass)
            mixer.reset()
        if mixer.gain.settled and mixer.gain.value == 1.0 and latency == 0:
            return wet
        out = np.empty_like(wet)
        for start in range(0, dry.shape[1], MAX_BLOCK_SAMPLES):
            stop = start + MAX_BLOCK_SAMPLES
            mixer.process(dry[:, start:stop], wet[:, start:stop], out[:, start:stop])
        if aligned:
            self._mixer = None     # a whole-file call leaves no streaming state behind
        return out


# the file functions' documented import path before they moved to `effect_files`: kept working
from .effect_files import process_file, read_audio, write_audio  # noqa: F401
