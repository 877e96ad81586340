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

from .errors import ConfigMismatchError

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
            raise ConfigMismatchError(f"window {self.window!r} is not supported; use one of {WINDOWS}")
        if self.n_fft <= 0 or self.hop_samples <= 0 or self.n_fft % self.hop_samples != 0:
            raise ConfigMismatchError(
                f"n_fft {self.n_fft} must be a positive multiple of hop_samples {self.hop_samples}"
            )
        if 2 * self.hop_samples > self.n_fft:  # one frame per hop: the summed windows vanish at its edges
            raise ConfigMismatchError(
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

    @property
    def frame_latency_samples(self) -> int:
        """Samples between a sample entering and its frame set being complete: n_fft - 1."""
        return self.n_fft - 1

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


def frame_signal(audio: np.ndarray, stft: StftConfig) -> np.ndarray:
    """Causal frames of `audio` (channels, samples) → (channels, frames, n_fft), zero padded."""
    channels, num_samples = audio.shape
    num_frames = stft.num_frames(num_samples)
    lead = stft.n_fft - stft.hop_samples
    total = (num_frames - 1) * stft.hop_samples + stft.n_fft
    padded = np.zeros((channels, total), dtype=np.float32)
    padded[:, lead:lead + num_samples] = audio
    return np.lib.stride_tricks.sliding_window_view(padded, stft.n_fft, axis=1)[:, ::stft.hop_samples]


def stft(audio: np.ndarray, stft_config: StftConfig) -> np.ndarray:
    """(channels, samples) float → (channels, spectrum_bins, frames) complex64."""
    frames = frame_signal(np.asarray(audio, dtype=np.float32), stft_config)
    spectrum = np.fft.rfft(frames * stft_config.analysis_window, axis=-1)
    return np.ascontiguousarray(spectrum.transpose(0, 2, 1)).astype(np.complex64)


def istft(spectrum: np.ndarray, stft_config: StftConfig, num_samples: int) -> np.ndarray:
    """(channels, spectrum_bins, frames) complex → (channels, num_samples) float32 by weighted OLA."""
    channels, _, num_frames = spectrum.shape
    frames = np.fft.irfft(spectrum.transpose(0, 2, 1), n=stft_config.n_fft, axis=-1)
    frames = (frames * stft_config.synthesis_window).astype(np.float32)
    hop = stft_config.hop_samples
    total = (num_frames - 1) * hop + stft_config.n_fft
    out = np.zeros((channels, total), dtype=np.float32)
    for offset in range(0, stft_config.n_fft, hop):
        # each hop-sized slice of every frame lands on a hop grid: add them with one strided write
        part = frames[:, :, offset:offset + hop].reshape(channels, num_frames * hop)
        out[:, offset:offset + num_frames * hop] += part
    lead = stft_config.n_fft - hop
    return out[:, lead:lead + num_samples]
