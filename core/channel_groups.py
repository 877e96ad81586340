"""Audio channels ↔ the model's batch: which channels one model call sees together.

A mono model (`model_channels` 1) separates every audio channel on its own: batch = channels. A
stereo model (`model_channels` 2) sees a pair of channels at once (channels 1+2, 3+4, …), so it can
use where a sound sits in the stereo image; a lone last channel (a mono file) is fed as a pair of two
copies, and only the first copy's output is kept. Shapes: ``(channels, ...)`` audio-channel arrays,
``(groups, model_channels, ...)`` model batches.
"""
from __future__ import annotations

import numpy as np

MODEL_CHANNELS = (1, 2)


def channel_slots(channels: int, model_channels: int) -> int:
    """Channels after padding to whole groups: `channels` rounded up to a multiple of `model_channels`."""
    return -(-channels // model_channels) * model_channels


def pad_to_groups(values: np.ndarray, model_channels: int, out: np.ndarray | None = None) -> np.ndarray:
    """(channels, ...) → (slots, ...): the last channel repeated until the groups are whole (`values`
    itself when they already are); written into `out` (slots, ...) when given, without allocating."""
    channels = values.shape[0]
    slots = channel_slots(channels, model_channels)
    if slots == channels:
        return values
    if out is None:
        out = np.empty((slots, *values.shape[1:]), values.dtype)
    out[:channels] = values
    out[channels:] = values[-1]
    return out


def group_channels(values: np.ndarray, model_channels: int) -> np.ndarray:
    """(channels, bins, frames) → (groups, model_channels, bins, frames), padded as `pad_to_groups`."""
    padded = pad_to_groups(values, model_channels)
    return padded.reshape(padded.shape[0] // model_channels, model_channels, *padded.shape[1:])


def ungroup_channels(values: np.ndarray, channels: int) -> np.ndarray:
    """(groups, model_channels, bins, frames) → (channels, bins, frames): the padding copies dropped."""
    return values.reshape(-1, *values.shape[2:])[:channels]
