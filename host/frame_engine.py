"""The one separation engine: whole hops in, whole hops out, model state carried between calls.

Offline and streaming use the same `FrameEngine`: offline feeds chunks of many hops (one ONNX Runtime
run per chunk), streaming feeds one hop whenever it completes. Because the graph carries its state
explicitly (see `isovox.core.model_metadata`), both compute exactly the same frames.

Per hop (frame k covers input samples ``[k*hop - (n_fft - hop), (k + 1)*hop)``):
analysis window → rfft → `log_magnitude` → model (output frame t belongs to input frame t - L) →
mask or magnitude applied to the mixture spectrum of frame t - L → optional Griffin-Lim phase
(`BlockGriffinLim`, adds its delay) → irfft × synthesis window → overlap-add → the oldest `hop`
samples are final and leave the engine.

Engine alignment: output sample p of the engine is input sample ``p - delay_samples`` of the
separated signal, where ``delay_samples = n_fft - hop + (L + phase delay) * hop``; samples before the
start are zero. A streaming wrapper that waits for whole hops adds ``hop - 1`` samples on top.
"""
from __future__ import annotations

import numpy as np

from isovox.core.errors import AudioDataError, ConfigMismatchError
from isovox.core.features import log_magnitude
from isovox.core.masks import apply_magnitude, apply_mask
from isovox.core.phase import BlockGriffinLim

from .model_file import LoadedModel

PHASES = ("mixture", "griffinlim")


class FrameEngine:
    """Separates `channels` channels hop by hop with one loaded model (see the module docstring).

    Buffers (all per channel):
    ``_history``  the last n_fft - hop input samples: the older part of the next frame;
    ``_states``   the model's carried states (zeros at the start);
    ``_pending``  mixture spectra of the last L analysed frames, waiting for their model output;
    ``_tail``     the overlap-add accumulator: partial sums of the n_fft - hop samples after the
                  last emitted hop (they still receive contributions from later frames)."""

    def __init__(self, loaded: LoadedModel, channels: int, phase: str = "mixture",
                 griffinlim_iterations: int = 8, griffinlim_lookahead_frames: int = 3,
                 griffinlim_block_frames: int = 1, griffinlim_momentum: float = 0.0):
        if phase not in PHASES:
            raise ConfigMismatchError(f"phase {phase!r} is not one of {PHASES}")
        if channels < 1:
            raise AudioDataError(f"channels must be >= 1, got {channels}")
        self.loaded = loaded
        self.cfg = loaded.metadata.stft
        self.channels = channels
        self.lookahead_frames = loaded.metadata.lookahead_frames
        self._apply = apply_mask if loaded.metadata.output_kind == "mask" else apply_magnitude
        self._output_names = [loaded.output_name, *loaded.state_output_names]
        self._phase = None
        if phase == "griffinlim":
            self._phase = BlockGriffinLim(self.cfg, channels, griffinlim_lookahead_frames,
                                          griffinlim_iterations, griffinlim_block_frames,
                                          griffinlim_momentum)
        self.reset()

    @property
    def delay_frames(self) -> int:
        """Frames between a frame's analysis and its synthesis: model look-ahead + phase delay."""
        return self.lookahead_frames + (self._phase.delay_frames if self._phase else 0)

    @property
    def delay_samples(self) -> int:
        """Engine output sample p is separated input sample p - delay_samples."""
        return self.cfg.n_fft - self.cfg.hop_samples + self.delay_frames * self.cfg.hop_samples

    def reset(self) -> None:
        """Zero every buffer (history, model states, pending spectra, overlap-add tail, counters)."""
        n_fft, hop, ch = self.cfg.n_fft, self.cfg.hop_samples, self.channels
        self._history = np.zeros((ch, n_fft - hop), np.float32)
        self._states = [np.zeros((ch, *shape), np.float32) for shape in self.loaded.state_shapes]
        self._pending = np.zeros((ch, self.cfg.spectrum_bins, self.lookahead_frames), np.complex64)
        self._tail = np.zeros((ch, n_fft - hop), np.float32)
        self._samples_out = 0
        if self._phase:
            self._phase.reset()

    def process(self, audio: np.ndarray) -> np.ndarray:
        """(channels, F*hop) float32 new input → (channels, F*hop) float32 output (see alignment)."""
        cfg, hop, n_fft = self.cfg, self.cfg.hop_samples, self.cfg.n_fft
        num_frames = audio.shape[1] // hop
        if audio.shape != (self.channels, num_frames * hop) or num_frames == 0:
            raise AudioDataError(f"engine input must be ({self.channels}, a positive multiple of {hop}), "
                                 f"got {audio.shape}")
        # analysis: frames of [history | new samples]
        joined = np.concatenate([self._history, audio], axis=1)
        self._history = joined[:, joined.shape[1] - (n_fft - hop):].copy()
        frames = np.lib.stride_tricks.sliding_window_view(joined, n_fft, axis=1)[:, ::hop]
        spectrum = np.fft.rfft(frames * cfg.analysis_window, axis=-1).transpose(0, 2, 1)  # (ch, bins, F)
        features = np.ascontiguousarray(log_magnitude(spectrum, cfg)[:, None])
        # model: output frame t belongs to input frame t - L, whose spectrum waits in _pending
        outputs = self.loaded.session.run(
            self._output_names,
            {"log_magnitude": features, **dict(zip(self.loaded.state_input_names, self._states))},
        )
        self._states = outputs[1:]
        mixture = np.concatenate([self._pending, spectrum], axis=-1)
        self._pending = mixture[..., num_frames:]
        estimate = self._apply(mixture[..., :num_frames], outputs[0][:, 0])
        if self._phase:
            estimate = self._phase.push(estimate)
        # synthesis: weighted overlap-add onto the carried tail; the first F*hop samples are final
        time_frames = np.fft.irfft(estimate.transpose(0, 2, 1), n=n_fft, axis=-1).astype(np.float32)
        time_frames *= cfg.synthesis_window
        accumulator = np.zeros((self.channels, (num_frames - 1) * hop + n_fft), np.float32)
        accumulator[:, :n_fft - hop] = self._tail
        for offset in range(0, n_fft, hop):
            part = time_frames[:, :, offset:offset + hop].reshape(self.channels, num_frames * hop)
            accumulator[:, offset:offset + num_frames * hop] += part
        self._tail = accumulator[:, num_frames * hop:].copy()
        out = accumulator[:, :num_frames * hop]
        silent = self.delay_samples - self._samples_out
        if silent > 0:  # output from before the signal started (frames of the left padding)
            out[:, :silent] = 0.0
        self._samples_out += out.shape[1]
        return out
