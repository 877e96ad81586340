"""Torch mirror of `isovox.core.stft` and `isovox.core.features` (causal framing, sqrt-Hann, weighted OLA).

Training computes spectra on the fly from waveform crops with these functions, so a model sees exactly
what the host computes in numpy; `tests/test_training.py` checks parity with core (< 1e-5) and the
torch round trip (< 1e-6). Shapes: ``(..., samples)`` audio, ``(..., spectrum_bins, frames)`` spectra.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from isovox.core.features import LOG_FLOOR
from isovox.core.stft import StftConfig


def _windows(stft_config: StftConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(analysis, synthesis) windows as float32 tensors, taken from core so both sides share one formula."""
    analysis = torch.from_numpy(stft_config.analysis_window).to(device)
    synthesis = torch.from_numpy(stft_config.synthesis_window).to(device)
    return analysis, synthesis


def stft(audio: torch.Tensor, stft_config: StftConfig) -> torch.Tensor:
    """(..., samples) float → (..., spectrum_bins, frames) complex64, framed like `core.stft.stft`."""
    num_samples = audio.shape[-1]
    hop, n_fft = stft_config.hop_samples, stft_config.n_fft
    num_frames = stft_config.num_frames(num_samples)
    total = (num_frames - 1) * hop + n_fft
    lead = n_fft - hop
    padded = F.pad(audio.float(), (lead, total - lead - num_samples))
    frames = padded.unfold(-1, n_fft, hop)  # (..., frames, n_fft)
    analysis, _ = _windows(stft_config, audio.device)
    # the FFT runs in float64 like numpy's, so log-magnitudes match core to float32 rounding
    spectrum = torch.fft.rfft((frames * analysis).double(), dim=-1).to(torch.complex64)
    return spectrum.transpose(-1, -2)


def istft(spectrum: torch.Tensor, stft_config: StftConfig, num_samples: int) -> torch.Tensor:
    """(..., spectrum_bins, frames) complex → (..., num_samples) float32, the exact inverse of `stft`."""
    hop, n_fft = stft_config.hop_samples, stft_config.n_fft
    lead_shape = spectrum.shape[:-2]
    num_frames = spectrum.shape[-1]
    _, synthesis = _windows(stft_config, spectrum.device)
    frames = torch.fft.irfft(spectrum.transpose(-1, -2).to(torch.complex128), n=n_fft, dim=-1)
    frames = frames.float() * synthesis  # (..., frames, n_fft)
    frames = frames.reshape(-1, num_frames, n_fft).transpose(1, 2)  # (N, n_fft, frames) for fold
    total = (num_frames - 1) * hop + n_fft
    out = F.fold(frames, output_size=(1, total), kernel_size=(1, n_fft), stride=(1, hop))
    lead = n_fft - hop
    return out.reshape(*lead_shape, total)[..., lead:lead + num_samples]


def log_magnitude(spectrum: torch.Tensor, stft_config: StftConfig) -> torch.Tensor:
    """(..., spectrum_bins, frames) complex → (..., model_bins, frames) float32 log(|X| + floor)."""
    return torch.log(spectrum[..., : stft_config.model_bins, :].abs() + LOG_FLOOR)


def extend_to_spectrum(model_values: torch.Tensor) -> torch.Tensor:
    """(..., model_bins, frames) → (..., model_bins + 1, frames): the top bin reused for Nyquist."""
    return torch.cat([model_values, model_values[..., -1:, :]], dim=-2)


def apply_output(mixture: torch.Tensor, output: torch.Tensor, output_kind: str) -> torch.Tensor:
    """The complex vocal estimate from a model output (..., model_bins, frames), with mixture phase.

    `mask`: mask × mixture; `magnitude`: estimated magnitude × mixture phase (as `core.masks`)."""
    extended = extend_to_spectrum(output)
    if output_kind == "mask":
        return mixture * extended
    phase = mixture / mixture.abs().clamp_min(1e-8)
    return phase * extended


def reconstructed_samples(num_frames: int, stft_config: StftConfig) -> int:
    """Samples fully reconstructed from the first `num_frames` causal frames of a signal."""
    return (num_frames - stft_config.n_fft // stft_config.hop_samples + 1) * stft_config.hop_samples
