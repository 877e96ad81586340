"""Validation: BSS Eval v4 vocal SDR (museval) of a model on fixed clips, beside two references.

Per clip: museval's framewise SDR on 1 s windows (median over windows, silent-reference windows
ignored), then the median over clips — the SiSEC/MUSDB convention. Estimates are built the way the
host builds them: numpy `core.stft`, the model on `core.features.log_magnitude` (channels grouped as
the model takes them, `core.channel_groups`; look-ahead compensated), the mask (or magnitude) applied
with the mixture phase, `core.istft`.
References on the same clips, computed once: the *mixture* used as the vocal estimate (the floor) and
the *oracle ideal ratio mask* |V| / (|V| + |A|) (what a perfect mask model of this kind could reach).
Only the vocals are scored: BSS Eval v4 SDR projects on the target's own reference, so the score does
not depend on the accompaniment estimate (checked equal to the two-source call), at a quarter the cost.
"""
from __future__ import annotations

import numpy as np
import torch
from isovox.core.channel_groups import group_channels, ungroup_channels
from isovox.core.features import log_magnitude
from isovox.core.masks import apply_mask, apply_output, ideal_ratio_mask
from isovox.core.metrics import median_over_tracks, sdr_museval
from isovox.core.stft import StftConfig, istft, stft
from isovox.training.datasets import ValidationClip
from isovox.training.model import UNet


def vocal_sdr(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """`core.metrics.sdr_museval`'s vocals SDR, (2, samples) each; NaN for a silent reference (the clip
    is then skipped by the median), −inf for a silent estimate (a model that outputs nothing)."""
    if not np.any(reference):
        return float("nan")
    if not np.any(estimate):
        return float("-inf")
    return sdr_museval(reference, estimate, sample_rate).sdr


def separate_clip(model: UNet, mixture: np.ndarray) -> np.ndarray:
    """Vocal estimate (2, samples) of `mixture` (2, samples) by `model` (eval mode) on its own device."""
    cfg = model.config.stft
    spectrum = stft(mixture, cfg)
    features = torch.from_numpy(group_channels(log_magnitude(spectrum, cfg), model.config.input_channels))
    device = next(model.parameters()).device
    with torch.no_grad():
        grouped = model.separate_offline(features.to(device)).float().cpu().numpy()
    output = ungroup_channels(grouped, mixture.shape[0])
    return istft(apply_output(spectrum, output, model.config.output_kind), cfg, mixture.shape[-1])


def reference_scores(clips: list[ValidationClip], stft_config: StftConfig) -> dict[str, float]:
    """{'mixture': SDR of the mixture as the estimate, 'oracle_irm': SDR of the ideal ratio mask}."""
    rate = stft_config.sample_rate
    mixture_scores, oracle_scores = [], []
    for clip in clips:
        mixture_scores.append(vocal_sdr(clip.vocals, clip.mixture, rate))
        mask = ideal_ratio_mask(stft(clip.vocals, stft_config), stft(clip.accompaniment, stft_config))
        oracle = istft(apply_mask(stft(clip.mixture, stft_config), mask[..., : stft_config.model_bins, :]),
                       stft_config, clip.mixture.shape[-1])
        oracle_scores.append(vocal_sdr(clip.vocals, oracle, rate))
    return {"mixture": median_over_tracks(mixture_scores), "oracle_irm": median_over_tracks(oracle_scores)}


def model_score(model: UNet, clips: list[ValidationClip]) -> float:
    """Median over clips of the model's vocal SDR (dB). Leaves the model in eval mode."""
    model.eval()
    rate = model.config.stft.sample_rate
    return median_over_tracks([vocal_sdr(c.vocals, separate_clip(model, c.mixture), rate) for c in clips])
