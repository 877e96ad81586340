"""The one separation engine: whole hops in, whole hops out, model state carried between calls.

Offline and streaming use the same `FrameEngine`: offline feeds chunks of many hops (one ONNX Runtime
run per chunk), streaming feeds one hop whenever it completes. Because the graph carries its state
explicitly (see `isovox.core.model_metadata`), both compute exactly the same frames.

Per hop (frame k covers input samples ``[k*hop - (n_fft - hop), (k + 1)*hop)``):
analysis window → rfft → `log_magnitude` → model (output frame t belongs to input frame t - L) →
mask or magnitude applied to the mixture spectrum of frame t - L (a stereo mask model's pairs through
the causal spatial Wiener filter, `core.spatial_wiener`, unless turned off) → optional Griffin-Lim phase
(`BlockGriffinLim`, adds its delay) → irfft × synthesis window → overlap-add → the oldest `hop`
samples are final and leave the engine. A stereo model (`input_channels` 2) sees channel pairs: the
engine then runs on the channels padded to whole pairs (`core.channel_groups`: a mono stream is fed as
two copies) and returns the real ones.

Engine alignment: output sample p of the engine is input sample ``p - delay_samples`` of the
separated signal, where ``delay_samples = n_fft - hop + (L + phase delay) * hop``; samples before the
start are zero. A streaming wrapper that waits for whole hops adds ``hop - 1`` samples on top.
"""
from __future__ import annotations

import numpy as np
from isovox.core.channel_groups import channel_slots, group_channels, pad_to_groups, ungroup_channels
from isovox.core.errors import AudioDataError, ModelError, SettingError
from isovox.core.features import LOG_FLOOR, log_magnitude
from isovox.core.latency import engine_delay_samples
from isovox.core.masks import apply_magnitude, apply_mask
from isovox.core.phase import BlockGriffinLim
from isovox.core.spatial_wiener import SpatialWiener, filters
from isovox.core.stft import frames_of, overlap_add

from .model_file import LoadedModel

PHASES = ("mixture", "griffinlim")


class FrameEngine:
    """Separates `channels` channels hop by hop with one loaded model (see the module docstring).

    Persistent buffers (per channel slot: the channels padded to whole model groups), allocated once
    and updated in place:
    ``_history``  the last n_fft - hop input samples: the older part of the next frame;
    ``_states``   the model's carried states, two sets used in turn (one in, one out: ping-pong);
    ``_pending``  a ring of the mixture spectra of the last L analysed frames, waiting for their model
                  output (``_pending_start`` is the oldest);
    ``_tail``     the overlap-add accumulator: partial sums of the n_fft - hop samples after the
                  last emitted hop (they still receive contributions from later frames).
    One hop at a time (the streaming case) runs on pre-allocated work buffers and, on the CPU, an
    ONNX Runtime IO binding to them; several hops at a time run vectorised (the offline case)."""

    def __init__(self, loaded: LoadedModel, channels: int, phase: str = "mixture",
                 griffinlim_iterations: int = 8, griffinlim_lookahead_frames: int = 3,
                 griffinlim_block_frames: int = 1, griffinlim_momentum: float = 0.0,
                 spatial_wiener: bool = True):
        if phase not in PHASES:
            raise SettingError(f"phase {phase!r} is not one of {PHASES}")
        if loaded.fixed_frames is not None:
            # the engine runs one frame per hop when streaming and long chunks offline
            raise ModelError(f"{loaded.path} was exported with a fixed time axis of {loaded.fixed_frames} "
                             "frames; the host needs a dynamic one: re-export with `isovox export --dynamic`")
        if channels < 1:
            raise AudioDataError(f"channels must be >= 1, got {channels}")
        self.loaded = loaded
        self.cfg = cfg = loaded.metadata.stft
        self.channels = channels
        self._group = group = loaded.input_channels
        self._slots = ch = channel_slots(channels, group)
        self.lookahead_frames = loaded.metadata.lookahead_frames
        self._apply = apply_mask if loaded.metadata.output_kind == "mask" else apply_magnitude
        self._wiener = (SpatialWiener(ch, cfg.spectrum_bins, cfg.sample_rate / cfg.hop_samples)
                        if spatial_wiener and filters(group, loaded.metadata.output_kind) else None)
        self._output_names = [loaded.output_name, *loaded.state_output_names]
        self._phase = None
        if phase == "griffinlim":
            self._phase = BlockGriffinLim(cfg, ch, griffinlim_lookahead_frames, griffinlim_iterations,
                                          griffinlim_block_frames, griffinlim_momentum)
        n_fft, hop, bins, model_bins = cfg.n_fft, cfg.hop_samples, cfg.spectrum_bins, cfg.model_bins
        self._history = np.zeros((ch, n_fft - hop), np.float32)
        self._state_sets = [[np.zeros((ch // group, *shape), np.float32) for shape in loaded.state_shapes]
                            for _ in range(2)]
        self._pending = np.zeros((ch, bins, self.lookahead_frames), np.complex64)
        self._tail = np.zeros((ch, n_fft - hop), np.float32)
        # work buffers of the one-hop path
        # one hop, channels padded to whole groups (only a stereo model given an odd channel count pads)
        self._padded_hop = np.zeros((ch, hop), np.float32) if ch != channels else None
        self._frame = np.zeros((ch, n_fft), np.float32)          # history + the new hop
        self._windowed = np.zeros((ch, n_fft), np.float32)
        self._spectrum = np.zeros((ch, bins), np.complex64)
        self._magnitude = np.zeros((ch, model_bins), np.float32)
        self._features = np.zeros((ch // group, group, model_bins, 1), np.float32)   # the bound model input
        self._model_out = np.zeros((ch // group, group, model_bins, 1), np.float32)
        self._slot_features = self._features.reshape(ch, model_bins)        # views of them per channel slot
        self._slot_output = self._model_out.reshape(ch, model_bins, 1)
        self._time = np.zeros((ch, n_fft), np.float32)           # one synthesised, windowed frame
        self._accumulator = np.zeros((ch, n_fft), np.float32)    # tail + that frame
        self._hop_out = np.zeros((ch, hop), np.float32)
        self._bindings = self._bind() if loaded.provider == "CPUExecutionProvider" else None
        self.reset()

    def _bind(self) -> list:
        """Two IO bindings of the one-hop buffers: state set i in, state set 1 - i out."""
        bindings = []
        for index in range(2):
            binding = self.loaded.session.io_binding()
            binding.bind_cpu_input("log_magnitude", self._features)
            for name, array in zip(self.loaded.state_input_names, self._state_sets[index]):
                binding.bind_cpu_input(name, array)
            outputs = [self._model_out, *self._state_sets[1 - index]]
            for name, array in zip(self._output_names, outputs):
                binding.bind_output(name, "cpu", 0, np.float32, array.shape, array.ctypes.data)
            bindings.append(binding)
        return bindings

    @property
    def phase_delay_frames(self) -> int:
        """Frames the phase method holds back (Griffin-Lim's look-ahead window; 0 for the mixture's)."""
        return self._phase.delay_frames if self._phase else 0

    @property
    def delay_samples(self) -> int:
        """Engine output sample p is separated input sample p - delay_samples (`core.latency`)."""
        return engine_delay_samples(self.cfg, self.lookahead_frames + self.phase_delay_frames)

    def reset(self) -> None:
        """Zero every buffer (history, model states, pending spectra, overlap-add tail, Griffin-Lim
        window) and the output counter, in place."""
        for array in (self._history, self._pending, self._tail, *self._state_sets[0], *self._state_sets[1]):
            array.fill(0)
        self._state_index = 0       # which state set holds the current states
        self._pending_start = 0
        self._samples_out = 0
        if self._phase:
            self._phase.reset()
        if self._wiener is not None:
            self._wiener.reset()

    def _estimate(self, mixture: np.ndarray, output: np.ndarray) -> np.ndarray:
        """Mixture spectra (slots, bins, frames) and model output (slots, model_bins, frames) → the vocals'
        spectra (slots, bins, frames); stereo pairs through the spatial Wiener filter when it is on."""
        if self._wiener is not None:
            return self._wiener.apply(mixture, output)
        return self._apply(mixture, output)

    def process(self, audio: np.ndarray) -> np.ndarray:
        """(channels, F*hop) float32 new input → (channels, F*hop) float32 output (see alignment).

        For F = 1 the result is a work buffer, valid until the next call: copy it if you keep it."""
        hop = self.cfg.hop_samples
        num_frames = audio.shape[1] // hop
        if audio.shape != (self.channels, num_frames * hop) or num_frames == 0:
            raise AudioDataError(f"engine input must be ({self.channels}, a positive multiple of {hop}), "
                                 f"got {audio.shape}")
        audio = pad_to_groups(audio, self._group, out=self._padded_hop if num_frames == 1 else None)
        out = self._process_one(audio) if num_frames == 1 else self._process_many(audio, num_frames)
        silent = self.delay_samples - self._samples_out
        if silent > 0:  # output from before the signal started (frames of the left padding)
            out[:, :silent] = 0.0
        self._samples_out += out.shape[1]
        return out[:self.channels]

    def _process_one(self, audio: np.ndarray) -> np.ndarray:
        """One hop through pre-allocated buffers (the streaming case)."""
        cfg, hop, n_fft = self.cfg, self.cfg.hop_samples, self.cfg.n_fft
        # analysis
        np.copyto(self._frame[:, :n_fft - hop], self._history)
        np.copyto(self._frame[:, n_fft - hop:], audio)
        np.copyto(self._history, self._frame[:, hop:])
        np.multiply(self._frame, cfg.analysis_window, out=self._windowed)
        np.fft.rfft(self._windowed, axis=-1, out=self._spectrum)
        # features: core.features.log_magnitude, written into the bound model input
        np.abs(self._spectrum[:, :cfg.model_bins], out=self._magnitude)
        np.add(self._magnitude, LOG_FLOOR, out=self._magnitude)
        np.log(self._magnitude, out=self._slot_features)
        self._run_one()
        # output frame t belongs to frame t - L: the oldest pending spectrum, whose slot takes frame t
        if self.lookahead_frames:
            slot = self._pending_start
            estimate = self._estimate(self._pending[..., slot:slot + 1], self._slot_output)
            np.copyto(self._pending[..., slot], self._spectrum)
            self._pending_start = (slot + 1) % self.lookahead_frames
        else:
            estimate = self._estimate(self._spectrum[..., None], self._slot_output)
        if self._phase:
            estimate = self._phase.push(estimate)
        # synthesis
        np.fft.irfft(estimate[..., 0], n=n_fft, axis=-1, out=self._time)
        np.multiply(self._time, cfg.synthesis_window, out=self._time)
        np.copyto(self._accumulator[:, :n_fft - hop], self._tail)
        self._accumulator[:, n_fft - hop:] = 0.0
        overlap_add(self._time[:, None], hop, self._accumulator)
        np.copyto(self._hop_out, self._accumulator[:, :hop])
        np.copyto(self._tail, self._accumulator[:, hop:])
        return self._hop_out

    def _run_one(self) -> None:
        """The model on `_features` → `_model_out`, states from the current set into the other."""
        current, following = self._state_sets[self._state_index], self._state_sets[1 - self._state_index]
        if self._bindings is not None:
            self.loaded.session.run_with_iobinding(self._bindings[self._state_index])
        else:
            outputs = self.loaded.session.run(
                self._output_names,
                {"log_magnitude": self._features, **dict(zip(self.loaded.state_input_names, current))})
            np.copyto(self._model_out, outputs[0])
            for array, value in zip(following, outputs[1:]):
                np.copyto(array, value)
        self._state_index = 1 - self._state_index

    def _process_many(self, audio: np.ndarray, num_frames: int) -> np.ndarray:
        """Several hops in one model run (the offline case); allocates per call."""
        cfg, hop, n_fft = self.cfg, self.cfg.hop_samples, self.cfg.n_fft
        # analysis: frames of [history | new samples]
        joined = np.concatenate([self._history, audio], axis=1)
        np.copyto(self._history, joined[:, joined.shape[1] - (n_fft - hop):])
        spectrum = np.fft.rfft(frames_of(joined, cfg) * cfg.analysis_window, axis=-1).transpose(0, 2, 1)
        features = np.ascontiguousarray(group_channels(log_magnitude(spectrum, cfg), self._group))
        states = self._state_sets[self._state_index]
        outputs = self.loaded.session.run(
            self._output_names, {"log_magnitude": features, **dict(zip(self.loaded.state_input_names, states))})
        for array, value in zip(states, outputs[1:]):
            np.copyto(array, value)
        # output frame t belongs to input frame t - L, whose spectrum waits in _pending (oldest first)
        pending = np.roll(self._pending, -self._pending_start, axis=-1)
        mixture = np.concatenate([pending, spectrum], axis=-1)
        np.copyto(self._pending, mixture[..., num_frames:])
        self._pending_start = 0
        estimate = self._estimate(mixture[..., :num_frames], ungroup_channels(outputs[0], self._slots))
        if self._phase:
            estimate = self._phase.push(estimate)
        # synthesis: weighted overlap-add onto the carried tail; the first F*hop samples are final
        time_frames = np.fft.irfft(estimate.transpose(0, 2, 1), n=n_fft, axis=-1).astype(np.float32)
        time_frames *= cfg.synthesis_window
        accumulator = np.zeros((self._slots, (num_frames - 1) * hop + n_fft), np.float32)
        accumulator[:, :n_fft - hop] = self._tail
        overlap_add(time_frames, hop, accumulator)
        np.copyto(self._tail, accumulator[:, num_frames * hop:])
        return accumulator[:, :num_frames * hop]
