"""The one STFT contract of isovox: framing, windows, forward and inverse transforms (numpy).

Framing is *causal*: frame k covers input samples ``[k*hop - (n_fft - hop), (k + 1)*hop)``, i.e. the
signal is padded on the left by ``n_fft - hop`` zeros and a frame is complete as soon as its last hop of
samples has arrived. The streaming host and the offline path therefore see identical frames, and the
inverse transform reproduces the input exactly (weighted overlap-add normalised by the summed windows).

Shapes use named axes: ``(channels, samples)`` for audio, ``(channels, bins, frames)`` for spectra.
The training code mirrors this module in torch (`isovox.training.features`) and a test checks parity.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import ConfigMismatchError, SettingError

WINDOWS = ("sqrt_hann",)


@dataclass(frozen=True)
class StftConfig:
    """STFT settings a model is trained with; stored in checkpoints and ONNX metadata.

    ``model_bins`` (= n_fft // 2) is what the model sees: the Nyquist bin is dropped so the frequency
    axis halves cleanly at every U-Net level; the mask of the top model bin is reused for it.
    """

    sample_rate: int = 44100
    n_fft: int = 1024
    hop_samples: int = 512
    window: str = "sqrt_hann"

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise SettingError(f"window {self.window!r} is not supported; use one of {WINDOWS}")
        if self.n_fft <= 0 or self.hop_samples <= 0 or self.n_fft % self.hop_samples != 0:
            raise SettingError(
                f"n_fft {self.n_fft} must be a positive multiple of hop_samples {self.hop_samples}"
            )
        if 2 * self.hop_samples > self.n_fft:  # one frame per hop: the summed windows vanish at its edges
            raise SettingError(
                f"hop_samples {self.hop_samples} is more than half of n_fft {self.n_fft}: the sqrt-Hann "
                f"synthesis window needs frames that overlap by half or more; use hop_samples "
                f"{self.n_fft // 2} or less"
            )

    @property
    def spectrum_bins(self) -> int:
        """Bins of the one-sided spectrum, DC to Nyquist (n_fft // 2 + 1)."""
        return self.n_fft // 2 + 1

    @property
    def model_bins(self) -> int:
        """Bins the model sees (Nyquist dropped)."""
        return self.n_fft // 2

    def num_frames(self, num_samples: int) -> int:
        """Frames needed so that every one of `num_samples` samples is fully reconstructed."""
        return (num_samples - 1 + self.n_fft - self.hop_samples) // self.hop_samples + 1

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> StftConfig:
        return cls(**{f.name: type(getattr(cls, f.name, ""))(values[f.name])
                      for f in dataclasses.fields(cls) if f.name in values})

    def require_same(self, other: StftConfig, what: str = "STFT settings") -> None:
        """Raise `ConfigMismatchError` naming both values when `other` differs from self."""
        if self != other:
            raise ConfigMismatchError(f"{what} differ: expected {self}, got {other}")

    @cached_property
    def analysis_window(self) -> np.ndarray:
        """(n_fft,) float32 periodic sqrt-Hann."""
        n = np.arange(self.n_fft)
        return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * n / self.n_fft)).astype(np.float32)

    @cached_property
    def synthesis_window(self) -> np.ndarray:
        """(n_fft,) float32: the analysis window divided by the summed window products, so that
        overlap-add of analysis·synthesis is exactly 1 at every sample (perfect reconstruction)."""
        w = self.analysis_window.astype(np.float64)
        product = w * w
        hop = self.hop_samples
        norm = np.zeros(hop)
        for start in range(0, self.n_fft, hop):
            norm += product[start:start + hop]
        return (w / np.tile(norm, self.n_fft // hop)).astype(np.float32)


def frames_of(signal: np.ndarray, cfg: StftConfig, first_frame: int = 0,
              num_frames: int | None = None) -> np.ndarray:
    """Frames of an already padded `signal` (channels, samples) → a (channels, frames, n_fft) view.

    Frame k starts at sample (first_frame + k)·hop; `num_frames` None = every complete frame."""
    hop = cfg.hop_samples
    part = signal[:, first_frame * hop:]
    if num_frames is not None:
        part = part[:, :(num_frames - 1) * hop + cfg.n_fft]
    return np.lib.stride_tricks.sliding_window_view(part, cfg.n_fft, axis=1)[:, ::hop]


def pad_causal(audio: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """(channels, samples) → float32 (channels, (frames - 1)·hop + n_fft): n_fft - hop zeros on the
    left (causal framing), zeros on the right up to the last frame that covers the last sample."""
    channels, num_samples = audio.shape
    lead = cfg.n_fft - cfg.hop_samples
    padded = np.zeros((channels, (cfg.num_frames(num_samples) - 1) * cfg.hop_samples + cfg.n_fft), np.float32)
    padded[:, lead:lead + num_samples] = audio
    return padded


def frame_signal(audio: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Causal frames of `audio` (channels, samples) → (channels, frames, n_fft), zero padded."""
    return frames_of(pad_causal(audio, cfg), cfg)


def analyse(signal: np.ndarray, cfg: StftConfig, first_frame: int = 0,
            num_frames: int | None = None) -> np.ndarray:
    """Spectra of the frames of a padded `signal` (see `frames_of`) → (channels, spectrum_bins, frames)
    complex64: analysis window, rfft."""
    spectrum = np.fft.rfft(frames_of(signal, cfg, first_frame, num_frames) * cfg.analysis_window, axis=-1)
    return np.ascontiguousarray(spectrum.transpose(0, 2, 1)).astype(np.complex64)


def overlap_add(time_frames: np.ndarray, hop_samples: int, out: np.ndarray) -> np.ndarray:
    """Add windowed frames (channels, frames, n_fft) into `out` (channels, ≥ (frames - 1)·hop + n_fft),
    frame k at sample k·hop, in place and without allocating (the one-hop streaming path needs both).

    The sums run in the same order for any number of frames, so a stream added one frame at a time
    equals the whole signal added at once, bit for bit."""
    channels, num_frames, n_fft = time_frames.shape
    span = num_frames * hop_samples
    for offset in range(0, n_fft, hop_samples):
        # each hop-sized slice of every frame lands on a hop grid: one strided add per slice
        target = out[:, offset:offset + span].reshape(channels, num_frames, hop_samples)
        np.add(target, time_frames[:, :, offset:offset + hop_samples], out=target)
    return out


def synthesise(spectrum: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """(channels, spectrum_bins, frames) complex → the untrimmed weighted overlap-add,
    (channels, (frames - 1)·hop + n_fft) float32, whose first n_fft - hop samples are the left pad."""
    channels, _, num_frames = spectrum.shape
    time_frames = np.fft.irfft(spectrum.transpose(0, 2, 1), n=cfg.n_fft, axis=-1)
    time_frames = (time_frames * cfg.synthesis_window).astype(np.float32)
    out = np.zeros((channels, (num_frames - 1) * cfg.hop_samples + cfg.n_fft), dtype=np.float32)
    return overlap_add(time_frames, cfg.hop_samples, out)


def stft(audio: np.ndarray, stft_config: StftConfig) -> np.ndarray:
    """(channels, samples) float → (channels, spectrum_bins, frames) complex64."""
    return analyse(pad_causal(np.asarray(audio, dtype=np.float32), stft_config), stft_config)


def istft(spectrum: np.ndarray, stft_config: StftConfig, num_samples: int) -> np.ndarray:
    """(channels, spectrum_bins, frames) complex → (channels, num_samples) float32 by weighted OLA."""
    lead = stft_config.n_fft - stft_config.hop_samples
    return synthesise(spectrum, stft_config)[:, lead:lead + num_samples]
