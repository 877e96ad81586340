"""Training losses on the vocal estimate.

- ``l1``  (the baseline recipe's): mean |estimated − true| vocal magnitude over the model bins;
- ``mse``: mean squared magnitude error over the model bins;
- ``l1c``: mean |estimate^0.3 − true^0.3| on power-law compressed magnitudes: quiet bins count as
  well as loud ones, so the gradients stay informative when the training budget is a few hundred steps;
- ``sdr``: negative signal-to-distortion ratio (dB) of the vocal *waveform* rebuilt with the mixture
  phase through the torch iSTFT that mirrors `core.stft` — the quantity validation measures.

Shapes: `output` (batch, model_bins, frames) (mask or magnitude), `mixture` (batch, spectrum_bins,
frames) complex, `vocals_spectrum` like `mixture`, `vocals_audio` (batch, samples).
"""
from __future__ import annotations

import torch
from isovox.core.metrics import sdr_along_samples_db
from isovox.core.stft import StftConfig
from isovox.training.features import apply_output, istft, reconstructed_samples

LOSSES = ("l1", "mse", "l1c", "sdr")
COMPRESSION_POWER = 0.3
COMPRESSION_FLOOR = 1e-4  # keeps the gradient of x**0.3 finite at silent bins
SDR_FLOOR = 1e-6  # per-sample power floor: bounds the loss on silent vocal crops (≈ −60 dBFS)


def estimated_magnitude(output: torch.Tensor, mixture: torch.Tensor, output_kind: str) -> torch.Tensor:
    """(batch, model_bins, frames) vocal magnitude estimate."""
    bins = output.shape[-2]
    return output * mixture[..., :bins, :].abs() if output_kind == "mask" else output


def negative_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −`core.metrics` plain SDR with a power floor; (batch, samples) in."""
    floor = SDR_FLOOR * reference.shape[-1]
    return -sdr_along_samples_db(reference, estimate, floor, log10=torch.log10).mean()


def _compressed(magnitude: torch.Tensor) -> torch.Tensor:
    return (magnitude + COMPRESSION_FLOOR).pow(COMPRESSION_POWER)


def separation_loss(kind: str, output: torch.Tensor, mixture: torch.Tensor, vocals_spectrum: torch.Tensor,
                    vocals_audio: torch.Tensor, output_kind: str, stft_config: StftConfig) -> torch.Tensor:
    """The scalar loss `kind` (one of `LOSSES`) for a batch whose frames are already aligned."""
    if kind == "sdr":
        estimate_spectrum = apply_output(mixture, output, output_kind)
        num_samples = reconstructed_samples(mixture.shape[-1], stft_config)
        estimate = istft(estimate_spectrum, stft_config, num_samples)
        return negative_sdr(estimate, vocals_audio[..., :num_samples])
    target = vocals_spectrum[..., : output.shape[-2], :].abs()
    error = estimated_magnitude(output, mixture, output_kind) - target
    if kind == "l1":
        return error.abs().mean()
    if kind == "mse":
        return error.pow(2).mean()
    if kind == "l1c":
        estimate = estimated_magnitude(output, mixture, output_kind)
        return (_compressed(estimate) - _compressed(target)).abs().mean()
    raise ValueError(f"loss {kind!r} is not one of {LOSSES}")
