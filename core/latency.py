"""The one latency formula: how many samples a separated stream lags its input, and why.

Stages, at the model's rate: causal framing waits for a whole frame (n_fft - 1 samples after a sample
arrives its last frame is complete), the model's look-ahead adds `lookahead_frames` hops, a
look-ahead phase method (block-wise Griffin-Lim) adds its `phase_delay_frames` hops. Resampling to
and from another stream rate adds what the two soxr filters hold back, made a whole number of stream
samples so the total stays exact. `FrameEngine`, `StreamingSeparator` and `isovox info` all use this.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .audio_io import StreamResampler
from .stft import StftConfig


@dataclass(frozen=True)
class StreamTiming:
    """How a stream is delayed; samples at the stream's rate unless named model-rate.

    engine_delay_samples: model-rate; engine output sample p is separated input sample p - this
    (whole hops in and out, so it is `latency` less the hop - 1 samples a hop FIFO waits).
    lead_zeros: model-rate zeros fed to the engine first so its delay is whole stream samples.
    prime_samples: silence the output FIFO starts with (hop - 1 without resampling).
    latency_samples: output sample n is separated input sample n - latency_samples."""

    engine_delay_samples: int
    lead_zeros: int
    prime_samples: int
    latency_samples: int


def engine_delay_samples(cfg: StftConfig, delay_frames: int) -> int:
    """Model-rate delay of whole hops through framing and `delay_frames` (look-ahead + phase) frames."""
    return cfg.n_fft - cfg.hop_samples + delay_frames * cfg.hop_samples


def stream_timing(cfg: StftConfig, lookahead_frames: int, phase_delay_frames: int = 0,
                  stream_rate: int | None = None, channels: int = 1,
                  resample_quality: str = "HQ") -> StreamTiming:
    """The delays of a stream at `stream_rate` Hz (None = the model's) through a model with
    `lookahead_frames` and a phase method adding `phase_delay_frames`; see `StreamTiming`."""
    hop, model_rate = cfg.hop_samples, cfg.sample_rate
    engine = engine_delay_samples(cfg, lookahead_frames + phase_delay_frames)
    if stream_rate is None or stream_rate == model_rate:
        return StreamTiming(engine, 0, hop - 1, engine + hop - 1)
    ratio = model_rate / stream_rate
    # the output FIFO starts with enough silence to cover what the engine (< one hop) and both
    # filters hold back at worst, so every block can be answered in full
    held_in = max_held_samples(stream_rate, model_rate, channels, resample_quality)
    held_out = max_held_samples(model_rate, stream_rate, channels, resample_quality)
    prime = int(np.ceil((hop - 1 + held_in) / ratio + held_out)) + 2
    step = model_rate // math.gcd(model_rate, stream_rate)
    lead_zeros = -engine % step
    return StreamTiming(engine, lead_zeros, prime, prime + (engine + lead_zeros) * stream_rate // model_rate)


def latency_samples(cfg: StftConfig, lookahead_frames: int, phase_delay_frames: int = 0,
                    stream_rate: int | None = None, channels: int = 1, resample_quality: str = "HQ") -> int:
    """Samples (at `stream_rate`, default the model's) between an input sample and its separated
    output: n_fft - 1 + (lookahead_frames + phase_delay_frames)·hop at the model's rate."""
    return stream_timing(cfg, lookahead_frames, phase_delay_frames, stream_rate, channels,
                         resample_quality).latency_samples


def max_held_samples(in_rate: int, out_rate: int, channels: int, quality: str = "HQ",
                     probe_samples: int = 4096) -> float:
    """Most output samples a soxr stream holds back while fed one sample at a time (its worst case)."""
    probe = StreamResampler(in_rate, out_rate, channels, quality)
    silence = np.zeros((channels, 1), np.float32)
    held = 0.0
    for _ in range(probe_samples):
        probe.process(silence)
        held = max(held, probe.held_samples())
    return held
