"""ONNX Runtime CPU speed of an exported model, in seconds of compute per second of audio."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from isovox.core.channel_groups import group_channels
from isovox.export.onnx_run import SILENCE, run_sequence
from isovox.host.bench import real_time_factors
from isovox.host.model_file import open_model

OFFLINE_CHUNK_FRAMES = 256   # ≈ 3 s at 44.1 kHz / hop 512: a typical offline call


@dataclass(frozen=True)
class SpeedReport:
    """Compute time per second of audio (lower is faster; < 1 is faster than real time)."""

    offline_rtf: float      # calls of OFFLINE_CHUNK_FRAMES (or the fixed frames) frames
    streaming_rtf: float    # one frame per call, as the live host runs (the fixed frames if fixed)
    channels: int
    threads: int


def measure_speed(path: str | Path, seconds: float = 2.0, channels: int = 2, threads: int = 1,
                  repeats: int = 3) -> SpeedReport:
    """Time ORT on CPU (`threads` intra-op threads) over `seconds` of `channels`-channel features.

    Each figure is the fastest of `repeats` runs (the least disturbed by other processes)."""
    loaded = open_model(path, device="cpu", intra_op_threads=threads)
    config = loaded.metadata.stft
    frames = max(1, round(seconds * config.sample_rate / config.hop_samples))
    audio_seconds = frames * config.hop_samples / config.sample_rate
    rng = np.random.default_rng(0)
    features = group_channels(rng.uniform(SILENCE, 3.0, (channels, config.model_bins, frames)).astype(np.float32),
                              loaded.input_channels)

    def fastest(chunk_frames: int) -> float:
        run_sequence(loaded, features[..., : min(frames, 2 * chunk_frames)], chunk_frames)  # warm up
        return min(real_time_factors(lambda: run_sequence(loaded, features, chunk_frames), audio_seconds, repeats))

    return SpeedReport(fastest(OFFLINE_CHUNK_FRAMES), fastest(1), channels, threads)
