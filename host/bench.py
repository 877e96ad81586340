"""Speed and latency benchmark of a model through the real runtime (torch-free).

What `run_bench` measures, on a generated music-like stereo clip at the model's sample rate:

- algorithmic latency: `StreamingSeparator.latency_samples` (exact) and in ms;
- per-block processing time of `StreamingSeparator.process` for each block size, in steady state
  (after `warmup_seconds` of audio), as p50 / p99 / max and as a ratio to the block period
  (ratio < 1 keeps up; the p99 ratio is what an audio callback must survive);
- offline real-time factor of `Separator.separate` (processing seconds / audio seconds, median of runs);
- peak resident memory of this process (VmHWM on Linux, else `resource.getrusage`) after the streaming runs and at the
  end, and the ONNX Runtime provider used.
"""
from __future__ import annotations

import math
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from isovox.core.errors import AudioDataError

DEFAULT_BLOCK_SIZES = (128, 256, 512, 1024)


@dataclass(frozen=True)
class BlockTiming:
    """Steady-state timing of `process` for one block size (times in ms, ratios to the block period)."""

    block_samples: int
    period_ms: float
    calls: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    p50_ratio: float
    p99_ratio: float
    max_ratio: float
    mean_ratio: float              # average load: must stay < 1 even with a worker thread and a buffer
    over_period_fraction: float    # calls slower than their block's duration
    cpu_p50_ratio: float           # the same from this thread's CPU time: what an idle core would take
    cpu_p99_ratio: float           # (wall − CPU time = time spent waiting for a core on a busy machine)
    cpu_mean_ratio: float


@dataclass
class BenchReport:
    """Everything `isovox bench` reports; `to_dict` is the `--json` object."""

    model: str
    model_config: dict
    provider: str
    machine: str
    sample_rate: int
    phase: str
    spatial_wiener: bool  # the model's output really goes through the filter (a stereo mask model, not turned off)
    latency_samples: int
    latency_ms: float
    seconds: float
    blocks: dict[str, BlockTiming] = field(default_factory=dict)
    offline_rtf: float = float("nan")
    offline_rtf_runs: list[float] = field(default_factory=list)
    peak_rss_mb: float = float("nan")             # after everything (the offline run included)
    peak_rss_streaming_mb: float = float("nan")   # after the streaming runs, before the offline one
    quality: dict | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["blocks"] = {key: asdict(value) for key, value in self.blocks.items()}
        return data


def machine_description() -> str:
    """A short description of this machine: CPU model, cores, OS."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()}"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux: VmHWM from /proc/self/status, because `getrusage`'s ru_maxrss is inherited across
    fork + exec (a child of a big parent would report the parent's peak). Elsewhere: `getrusage`."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def synthetic_mixture(seconds: float, sample_rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """(channels, samples) float32 music-like test signal: a vibrato 'voice' with harmonics, chords,
    noise bursts. Only its content type matters for timing (the runtime does the same work for any input)."""
    if seconds <= 0:
        raise AudioDataError(f"seconds must be positive, got {seconds}")
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 220.0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    voice_phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * voice_phase) / k for k in range(1, 10)) * (np.sin(2 * np.pi * 0.3 * t) > -0.4)
    chords = sum(np.sin(2 * np.pi * f * t) for f in (130.8, 164.8, 196.0, 261.6)) * 0.15
    bursts = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t) > 0.9) * 0.2
    mix = [(0.35 - 0.05 * c) * voice + (1.0 - 0.2 * c) * chords + bursts for c in range(channels)]
    return (np.stack(mix) * 0.25).astype(np.float32)


def time_blocks(separator, audio: np.ndarray, block_samples: int, warmup_seconds: float = 1.0) -> BlockTiming:
    """Feed `audio` (channels, samples) through `separator` (a `StreamingSeparator`, reset first) in
    blocks of `block_samples`; time each `process` call after the first `warmup_seconds`."""
    sample_rate = separator.sample_rate
    if block_samples < 1 or block_samples > separator.max_block_samples:
        raise AudioDataError(f"block size {block_samples} is outside 1..{separator.max_block_samples}; "
                             "raise max_block_samples")
    separator.reset()
    out = np.empty((audio.shape[0], block_samples), np.float32)
    warmup_blocks = int(np.ceil(warmup_seconds * sample_rate / block_samples))
    num_blocks = audio.shape[1] // block_samples
    if num_blocks <= warmup_blocks:
        raise AudioDataError(f"{audio.shape[1] / sample_rate:.2f} s of audio leaves no block to time after "
                             f"{warmup_seconds} s of warm-up; benchmark a longer duration")
    times = np.empty(num_blocks - warmup_blocks)
    cpu_times = np.empty_like(times)
    clock, cpu_clock = time.perf_counter, time.thread_time
    for index in range(num_blocks):
        block = audio[:, index * block_samples:(index + 1) * block_samples]
        cpu_start, start = cpu_clock(), clock()
        separator.process(block, out=out)
        elapsed, cpu_elapsed = clock() - start, cpu_clock() - cpu_start
        if index >= warmup_blocks:
            times[index - warmup_blocks] = elapsed
            cpu_times[index - warmup_blocks] = cpu_elapsed
    period = block_samples / sample_rate
    p50, p99 = np.percentile(times, [50, 99])
    cpu_p50, cpu_p99 = np.percentile(cpu_times, [50, 99])
    return BlockTiming(
        block_samples=block_samples, period_ms=period * 1e3, calls=int(times.size),
        p50_ms=float(p50) * 1e3, p99_ms=float(p99) * 1e3, max_ms=float(times.max()) * 1e3,
        p50_ratio=float(p50 / period), p99_ratio=float(p99 / period), max_ratio=float(times.max() / period),
        mean_ratio=float(times.mean() / period), over_period_fraction=float(np.mean(times > period)),
        cpu_p50_ratio=float(cpu_p50 / period), cpu_p99_ratio=float(cpu_p99 / period),
        cpu_mean_ratio=float(cpu_times.mean() / period),
    )


def real_time_factors(work: Callable[[], object], audio_seconds: float, runs: int) -> list[float]:
    """Wall seconds `work()` takes per second of the audio it processes, one factor per run
    (< 1 is faster than real time). The one timing loop of `isovox bench` and `isovox export`."""
    factors = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        factors.append((time.perf_counter() - start) / audio_seconds)
    return factors


def offline_rtf(separator, audio: np.ndarray, sample_rate: int, runs: int = 3) -> list[float]:
    """Real-time factors (processing s / audio s) of `separator.separate(audio, sample_rate)`, one per run."""
    return real_time_factors(lambda: separator.separate(audio, sample_rate), audio.shape[1] / sample_rate, runs)


def run_bench(model: str | os.PathLike = "default", device: str = "auto",
              block_sizes: tuple[int, ...] = DEFAULT_BLOCK_SIZES, seconds: float = 20.0,
              phase: str = "mixture", warmup_seconds: float = 1.0, offline_runs: int = 3,
              intra_op_threads: int = 1, spatial_wiener: bool = True) -> BenchReport:
    """Measure latency, per-block time for each of `block_sizes`, offline RTF and peak RSS.

    Each block size streams `seconds` of audio after `warmup_seconds` of warm-up through one real
    `StreamingSeparator` (ONNX Runtime with `intra_op_threads`, 1 = a real-time worker); the offline
    clip is `seconds` long and separated `offline_runs` times by a real `Separator`."""
    from isovox.core.spatial_wiener import filters
    from isovox.host.model_file import resolve_model_path
    from isovox.host.separator import Separator
    from isovox.host.streaming import StreamingSeparator

    if not block_sizes or min(block_sizes) < 1:
        raise AudioDataError(f"block sizes must be positive integers, got {list(block_sizes)}")
    streaming = StreamingSeparator(model, device, phase=phase, channels=2, max_block_samples=max(block_sizes),
                                   intra_op_threads=intra_op_threads, spatial_wiener=spatial_wiener)
    sample_rate = streaming.sample_rate
    audio = synthetic_mixture(seconds + warmup_seconds, sample_rate)
    metadata = streaming.model_metadata
    report = BenchReport(
        model=str(resolve_model_path(model)),
        model_config=metadata.model_config, provider=streaming.provider, machine=machine_description(),
        sample_rate=sample_rate, phase=phase,
        spatial_wiener=spatial_wiener and filters(metadata.input_channels, metadata.output_kind),
        latency_samples=int(streaming.latency_samples),
        latency_ms=1e3 * streaming.latency_samples / sample_rate, seconds=seconds,
    )
    for block_samples in block_sizes:
        report.blocks[str(block_samples)] = time_blocks(streaming, audio, block_samples, warmup_seconds)
    report.peak_rss_streaming_mb = peak_rss_mb()
    offline = Separator(model, device, phase=phase, spatial_wiener=spatial_wiener)
    factors = offline_rtf(offline, audio[:, -int(seconds * sample_rate):], sample_rate, offline_runs)
    report.offline_rtf_runs = factors
    report.offline_rtf = float(np.median(factors))
    report.peak_rss_mb = peak_rss_mb()
    return report


def format_report(report: BenchReport) -> str:
    """Human-readable summary (a markdown table of the block timings)."""
    lines = [
        f"model      {report.model}",
        f"machine    {report.machine}",
        f"provider   {report.provider}",
        (f"latency    {report.latency_samples} samples = {report.latency_ms:.1f} ms at {report.sample_rate} Hz "
         f"(phase: {report.phase}; spatial Wiener filter {'on' if report.spatial_wiener else 'off'})"),
        (f"offline    real-time factor {report.offline_rtf:.4f} (median of {len(report.offline_rtf_runs)} runs "
         f"on {report.seconds:g} s; {1 / report.offline_rtf if report.offline_rtf > 0 else float('inf'):.1f}× "
         "faster than real time)"),
        f"peak RSS   {report.peak_rss_mb:.0f} MiB ({report.peak_rss_streaming_mb:.0f} MiB before the offline runs)",
        "",
        f"streaming, {report.seconds:g} s per block size after warm-up:",
        ("| block (samples) | period (ms) | p50 (ms) | p99 (ms) | max (ms) | p50 / period | p99 / period "
         "| mean / period | calls over period | CPU-time p50 / p99 / mean ÷ period |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for timing in report.blocks.values():
        lines.append(
            f"| {timing.block_samples} | {timing.period_ms:.2f} | {timing.p50_ms:.3f} | {timing.p99_ms:.3f} "
            f"| {timing.max_ms:.3f} | {timing.p50_ratio:.3f} | {timing.p99_ratio:.3f} | {timing.mean_ratio:.3f} "
            f"| {100 * timing.over_period_fraction:.2f} % | {timing.cpu_p50_ratio:.3f} / {timing.cpu_p99_ratio:.3f} "
            f"/ {timing.cpu_mean_ratio:.3f} |")
    return "\n".join(lines)


def jsonable(value):
    """`value` with NaN/inf floats (not JSON) replaced by None, through dicts, lists and tuples."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value
