"""`isovox live`: a duplex sounddevice stream through the `StreamingSeparator`.

`run_live` opens the devices, chooses the design and the rate, runs the stream, watches it and stops
it cleanly; the per-block work is `LiveEngine` (live_engine.py), the callback and the worker thread
are `LiveCallback` (live_callback.py), the device lookup is audio_devices.py.

Design (`LiveSettings.worker`: "off", "on", or "auto" = on for blocks smaller than the model's hop):
the model runs once per hop, so with smaller blocks one callback in several would carry a whole
model step; a worker thread carries it instead, for `worker_latency_samples` more latency.
"""
from __future__ import annotations

import atexit
import math
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from isovox.core.errors import ConfigMismatchError, DeviceError

from .audio_devices import choose_sample_rate, resolve_device, sounddevice_module
from .live_callback import LiveCallback, worker_latency_samples
from .live_engine import LiveEngine, LiveStats
from .midi import MidiControl
from .smoothing import DEFAULT_RAMP_SECONDS
from .thread_priority import UI_PRIORITY, raise_thread_priority, restore_thread_priority

WORKER_MODES = ("auto", "on", "off")
# how often the interpreter asks a thread to hand over the GIL (CPython's default is 5 ms, longer than
# a 128-sample block at 48 kHz): the audio callback and the worker wait at most this for each other
LIVE_SWITCH_INTERVAL_SECONDS = 0.0005


@dataclass(frozen=True)
class LiveSettings:
    """What `run_live` opens. input/output: device index or name (substring), None = default.
    latency: 'low' | 'high' | seconds (PortAudio's suggestion; the real value may differ).
    sample_rate: None = the model's; a device that cannot run at it makes the stream run at the
    device's rate with resampling (said in `LiveReport.notices`)."""

    input: int | str | None = None
    output: int | str | None = None
    block_size: int = 256
    channels: int = 2
    latency: str | float = "low"
    sample_rate: int | None = None
    worker: str = "auto"
    ramp_seconds: float = DEFAULT_RAMP_SECONDS


@dataclass
class LiveReport:
    """What a run did: settings really used, figures, and how it ended."""

    input_device: str = ""
    output_device: str = ""
    sample_rate: int = 0
    block_size: int = 0
    channels: int = 0
    resampling: bool = False
    worker: bool = False                         # the worker-thread design ran
    realtime_threads: bool = False               # the UI loop (and worker) ran under SCHED_FIFO
    processing_latency_samples: int = 0          # separator (+ worker_latency_samples with the worker)
    device_latency_seconds: tuple[float, float] = (float("nan"), float("nan"))   # PortAudio in, out
    seconds: float = 0.0
    ended_by: str = ""                           # "duration", "interrupt", "server lost", "error"
    notices: list[str] = field(default_factory=list)
    stats: LiveStats | None = None

    @property
    def total_latency_samples(self) -> int:
        """Processing latency plus PortAudio's reported input and output latency (through JACK this
        includes PortAudio's one period of buffering; measured equal to the real round trip)."""
        device = sum(self.device_latency_seconds)
        device_samples = round(device * self.sample_rate) if math.isfinite(device) else 0
        return self.processing_latency_samples + device_samples


def _warm_up(separator, block_size: int, hops: int = 16) -> None:
    """Run `hops` hops of silence through the separator and reset it: ONNX Runtime's first runs
    allocate and are several times slower, which would drop the stream's first blocks."""
    hop = separator.model_metadata.stft.hop_samples
    silence = np.zeros((separator.channels, block_size), np.float32)
    for _ in range(max(1, hops * hop // block_size)):
        separator.process(silence)
    separator.reset()


def _close_with_timeout(close, timeout_seconds: float = 2.0) -> bool:
    """Run `close()` on a daemon thread; False if it did not return in time (a dead server)."""
    thread = threading.Thread(target=close, daemon=True)
    thread.start()
    thread.join(timeout_seconds)
    return not thread.is_alive()


def run_live(settings: LiveSettings, make_separator, midi: MidiControl | None = None, fx=None,
             wet: float = 1.0, bypass: bool = False, duration_seconds: float | None = None,
             on_status=None, status_interval_seconds: float = 0.25,
             stop: threading.Event | None = None) -> LiveReport:
    """Run the live stream until `duration_seconds`, Ctrl-C, `stop` being set, or the server dying.

    make_separator(sample_rate, resample) -> StreamingSeparator (called once the device rate is known).
    on_status(report) is called every `status_interval_seconds` from this (the UI) thread.
    Raises DeviceError for unusable devices and when the audio server disappears mid-run (after
    stopping everything it can; it never hangs on a dead server).
    """
    sd = sounddevice_module()
    if settings.worker not in WORKER_MODES:
        raise DeviceError(f"worker mode {settings.worker!r} is not one of {WORKER_MODES}")
    input_index = resolve_device(settings.input, "input", settings.channels)
    output_index = resolve_device(settings.output, "output", settings.channels)
    probe = make_separator(None, False) if settings.sample_rate is None else None
    model_rate = settings.sample_rate or probe.sample_rate
    rate, notice = choose_sample_rate(input_index, output_index, settings.channels, model_rate)
    report = LiveReport(input_device=sd.query_devices(input_index)["name"],
                        output_device=sd.query_devices(output_index)["name"], sample_rate=rate,
                        block_size=settings.block_size, channels=settings.channels, resampling=notice is not None)
    if notice:
        report.notices.append(notice)
    try:
        separator = probe if (probe is not None and notice is None) else make_separator(rate, notice is not None)
    except ConfigMismatchError as exc:
        raise DeviceError(f"{exc}; the device runs at {rate} Hz") from exc
    _warm_up(separator, settings.block_size)
    max_block = max(settings.block_size, 1024) * 4
    engine = LiveEngine(separator, midi=midi, fx=fx, wet=wet, bypass=bypass, max_block_samples=max_block,
                        ramp_seconds=settings.ramp_seconds)
    hop = separator.model_metadata.stft.hop_samples
    use_worker = settings.worker == "on" or (settings.worker == "auto" and settings.block_size < hop)
    report.worker = use_worker
    extra = worker_latency_samples(hop, settings.block_size) if use_worker else 0
    callback = LiveCallback(engine, settings.block_size, use_worker, extra)
    report.stats = engine.stats
    report.processing_latency_samples = engine.latency_samples + extra
    finished = threading.Event()
    try:
        stream = sd.Stream(samplerate=rate, blocksize=settings.block_size, device=(input_index, output_index),
                           channels=settings.channels, dtype="float32", latency=settings.latency,
                           callback=callback, finished_callback=finished.set)
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot open the audio stream ({exc}) on {report.input_device!r} -> "
                          f"{report.output_device!r} at {rate} Hz, block {settings.block_size}; try "
                          f"--block-size 512, --latency high or other devices (`isovox devices`)") from exc
    report.device_latency_seconds = tuple(float(x) for x in stream.latency)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(LIVE_SWITCH_INTERVAL_SECONDS)
    saved_priority = raise_thread_priority(UI_PRIORITY)
    if use_worker:
        callback.start()
    started = time.monotonic()
    server_lost = False
    try:
        stream.start()       # inside: a failed start still closes the stream, stops the worker, restores
        while True:
            waited = (stop.wait(status_interval_seconds) if stop is not None
                      else time.sleep(status_interval_seconds))
            report.seconds = time.monotonic() - started
            if on_status is not None:
                on_status(report)
            if waited:
                report.ended_by = "stopped"
                break
            if duration_seconds is not None and report.seconds >= duration_seconds:
                report.ended_by = "duration"
                break
            if not stream.active or finished.is_set():
                report.ended_by = "server lost"
                server_lost = True
                break
            if engine.stats.errors:
                report.ended_by = "error"
                break
    except KeyboardInterrupt:
        report.ended_by = "interrupt"
    finally:
        if server_lost or not _close_with_timeout(stream.close):
            # PortAudio's JACK host API blocks forever closing a stream whose server died, and again
            # in sounddevice's exit handler (Pa_Terminate): give the stream up, let the process exit.
            server_lost = True
            _close_with_timeout(stream.close, 0.5)
            atexit.unregister(sd._exit_handler)
        callback.stop()
        restore_thread_priority(saved_priority)
        sys.setswitchinterval(switch_interval)
    report.seconds = time.monotonic() - started
    report.realtime_threads = saved_priority is not None and (callback.worker_realtime or not use_worker)
    if not report.realtime_threads:
        report.notices.append("isovox's threads ran at normal priority (the system refused SCHED_FIFO), so a busy "
                              "machine can drop blocks: raise the rtprio limit, e.g. `@audio - rtprio 95` in "
                              "/etc/security/limits.conf")
    if server_lost:
        raise DeviceError(f"the audio server stopped after {report.seconds:.1f} s (JACK quit or crashed); "
                          "the stream was abandoned; restart the server and run again")
    if engine.stats.errors:
        raise DeviceError(f"the audio callback failed {engine.stats.errors} time(s): {engine.stats.last_error}")
    return report


def status_line(report: LiveReport) -> str:
    """One terminal line: meters, wet/dry, bypass, latency, DSP load, dropped blocks."""
    stats = report.stats

    def db(peak: float) -> str:
        return f"{20 * math.log10(peak):6.1f}" if peak > 1e-6 else "  -inf"

    latency_ms = 1000 * report.total_latency_samples / report.sample_rate
    return (f"in {db(stats.input_peak)} dB  out {db(stats.output_peak)} dB  wet {stats.wet:4.2f}  "
            f"{'BYPASS' if stats.bypass else 'active'}  latency {latency_ms:5.1f} ms  "
            f"DSP {100 * stats.dsp_load:5.1f}% (max {100 * stats.dsp_load_max:5.1f}%)  "
            f"dropped {stats.dropped_blocks}  {report.seconds:6.1f} s")
