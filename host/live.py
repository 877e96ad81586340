"""Live vocal isolation: a duplex sounddevice stream through the StreamingSeparator.

Layers: `run_live` (opens devices, runs the stream, watches it, stops it cleanly) → `LiveEngine`
(the per-block work: MIDI at the block boundary, meters, separation, latency-matched dry/wet mix,
optional pedalboard effects) → `StreamingSeparator`.

Two designs (`LiveSettings.worker`: "off", "on", or "auto" = on for blocks of a quarter hop or less):
- in the callback: the callback separates. Latency = the separator's.
- worker thread: the callback only copies into/out of lock-free single-producer/single-consumer
  rings and wakes a worker that separates. The model runs once per hop (512 samples), so with
  blocks smaller than a hop one callback in several carries the whole model step; the worker gets
  a hop's worth of time for it instead, at the cost of `worker_latency_samples` (the hop rounded up
  to whole blocks) more latency.

Callback rules: copies between pre-allocated buffers (the separator and pedalboard allocate their
small per-call arrays), no I/O, no lock shared with the MIDI or UI thread (the MIDI queue is a
deque), never raises: an error silences the output and is reported by the UI thread. Every status
flag PortAudio reports (input overflow/underflow, output underflow/overflow) is counted.
"""
from __future__ import annotations

import atexit
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from isovox.core.errors import ConfigMismatchError, DeviceError

from .midi import MidiControl
from .smoothing import DEFAULT_RAMP_SECONDS, DryWetMixer

PEAK_HOLD_SECONDS = 0.3
STATUS_FLAGS = ("input_overflow", "input_underflow", "output_underflow", "output_overflow")


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


class LiveStats:
    """Counters and meters. Written by the audio thread (or the worker), read by the UI thread."""

    def __init__(self) -> None:
        self.callbacks = 0
        self.flagged_callbacks = 0         # callbacks PortAudio flagged with any over/underflow
        self.blocks_processed = 0
        self.input_overflow = 0
        self.input_underflow = 0
        self.output_underflow = 0
        self.output_overflow = 0
        self.ring_underruns = 0            # worker mode: the callback found no separated block ready
        self.ring_overruns = 0             # worker mode: the input ring was full (worker too slow)
        self.errors = 0
        self.last_error = ""
        self.input_peak = 0.0
        self.output_peak = 0.0
        self.dsp_load = 0.0                # last block: processing time / block duration
        self.dsp_load_max = 0.0
        self._dsp_load_sum = 0.0
        self.device_latency_seconds = float("nan")   # PortAudio: output DAC time - input ADC time
        self.wet = 1.0
        self.bypass = False

    @property
    def dropped_blocks(self) -> int:
        """Callbacks PortAudio flagged (one per callback, whatever the flags) plus worker-ring
        under/overruns."""
        return self.flagged_callbacks + self.ring_underruns + self.ring_overruns

    @property
    def dsp_load_mean(self) -> float:
        return self._dsp_load_sum / self.blocks_processed if self.blocks_processed else 0.0


class LiveEngine:
    """The per-block processing, independent of sounddevice (so it is testable without a device).

    `process(dry, out)`: dry (channels, n) input → out (channels, n): MIDI applied at the block
    boundary, separation, wet/dry with the dry path delayed by the separator's latency (ramped),
    then `fx` (a `Chain` or pedalboard plugin, streaming with reset=False).
    """

    def __init__(self, separator, midi: MidiControl | None = None, fx=None, wet: float = 1.0,
                 bypass: bool = False, max_block_samples: int = 4096,
                 ramp_seconds: float = DEFAULT_RAMP_SECONDS) -> None:
        self.separator = separator
        self.midi = midi
        self.fx = fx
        self.sample_rate = separator.sample_rate
        self.channels = separator.channels
        self.max_block_samples = max_block_samples
        if midi is not None:
            midi.wet, midi.bypass = wet, bypass
        self.mixer = DryWetMixer(self.channels, separator.latency_samples, max_block_samples,
                                 max(1, round(ramp_seconds * self.sample_rate)), wet, bypass)
        self.mixer.reset()
        self.stats = LiveStats()
        self.stats.wet, self.stats.bypass = wet, bypass
        self._wet = np.zeros((self.channels, max_block_samples), np.float32)
        self._mix = np.zeros((self.channels, max_block_samples), np.float32)
        self._input_hold = 0
        self._output_hold = 0

    @property
    def latency_samples(self) -> int:
        """Input-to-output delay of the processing itself (the separator's; effects add none)."""
        return self.separator.latency_samples

    def process(self, dry: np.ndarray, out: np.ndarray) -> None:
        """dry, out: (channels, n) float32, n <= max_block_samples."""
        frames = dry.shape[1]
        stats = self.stats
        if self.midi is not None and self.midi.drain():
            self.mixer.wet = self.midi.wet
            self.mixer.bypass = self.midi.bypass
            stats.wet, stats.bypass = self.midi.wet, self.midi.bypass
        hold_blocks = PEAK_HOLD_SECONDS * self.sample_rate / frames
        peak = max(float(dry.max()), -float(dry.min()))
        self._input_hold -= 1
        if peak >= stats.input_peak or self._input_hold <= 0:
            stats.input_peak, self._input_hold = peak, hold_blocks
        wet = self.separator.process(dry, out=self._wet[:, :frames])
        mixed = self._mix[:, :frames]
        self.mixer.process(dry, wet, mixed)
        if self.fx is not None:
            out[:] = self.fx.process(mixed, self.sample_rate, reset=False)
        else:
            out[:] = mixed
        peak = max(float(out.max()), -float(out.min()))
        self._output_hold -= 1
        if peak >= stats.output_peak or self._output_hold <= 0:
            stats.output_peak, self._output_hold = peak, hold_blocks


class SpscRing:
    """A (channels, capacity) float32 ring for one producer thread and one consumer thread.

    Lock-free: `_written` is only advanced by the producer, `_read` only by the consumer, each
    after its copy (int stores are atomic under the GIL)."""

    def __init__(self, channels: int, capacity: int) -> None:
        self._buffer = np.zeros((channels, capacity), np.float32)
        self.capacity = capacity
        self._written = 0
        self._read = 0

    @property
    def available(self) -> int:
        return self._written - self._read

    def write(self, block: np.ndarray) -> bool:
        """Copy (channels, n) in; False (nothing written) when it does not fit."""
        n = block.shape[1]
        if n > self.capacity - self.available:
            return False
        start = self._written % self.capacity
        first = min(n, self.capacity - start)
        self._buffer[:, start:start + first] = block[:, :first]
        self._buffer[:, :n - first] = block[:, first:]
        self._written += n
        return True

    def discard(self, n: int) -> int:
        """Drop up to n of the oldest samples (consumer side); returns how many were dropped."""
        dropped = min(n, self.available)
        self._read += dropped
        return dropped

    def read_into(self, out: np.ndarray) -> bool:
        """Fill (channels, n) `out`; False (nothing read) when fewer than n samples are held."""
        n = out.shape[1]
        if n > self.available:
            return False
        start = self._read % self.capacity
        first = min(n, self.capacity - start)
        out[:, :first] = self._buffer[:, start:start + first]
        out[:, first:] = self._buffer[:, :n - first]
        self._read += n
        return True


class _Callback:
    """The sounddevice callback for either design; pre-allocates everything it touches."""

    def __init__(self, engine: LiveEngine, block_size: int, worker: bool, worker_latency_samples: int = 0) -> None:
        self.engine = engine
        self.stats = engine.stats
        channels, max_block = engine.channels, engine.max_block_samples
        self._dry = np.zeros((channels, max_block), np.float32)
        self._out = np.zeros((channels, max_block), np.float32)
        self.worker = worker
        self.stop_worker = threading.Event()
        self.wake = threading.Event()
        if worker:
            capacity = 4 * (block_size + worker_latency_samples + 512)
            self.in_ring = SpscRing(channels, capacity)
            self.out_ring = SpscRing(channels, capacity)
            self.out_ring.write(np.zeros((channels, worker_latency_samples), np.float32))   # the added latency
            self.thread = threading.Thread(target=self._work, name="isovox-worker", daemon=True)
            self._work_in = np.zeros((channels, block_size), np.float32)
            self._work_out = np.zeros((channels, block_size), np.float32)
            self.block_size = block_size
            # samples the output ring owes (>0: late blocks to drop when they arrive; <0: lost input
            # blocks to answer with silence) so a dropout never changes the latency
            self._owed = 0

    def __call__(self, indata: np.ndarray, outdata: np.ndarray, frames: int, time_info, status) -> None:
        stats = self.stats
        started = time.perf_counter()
        stats.callbacks += 1
        if status:
            stats.flagged_callbacks += 1
            for flag in STATUS_FLAGS:
                if getattr(status, flag):
                    setattr(stats, flag, getattr(stats, flag) + 1)
        try:
            if time_info.inputBufferAdcTime > 0 and time_info.outputBufferDacTime > 0:
                stats.device_latency_seconds = time_info.outputBufferDacTime - time_info.inputBufferAdcTime
            dry, out = self._dry[:, :frames], self._out[:, :frames]
            np.copyto(dry, indata.T)
            if self.worker:
                self._exchange(dry, out, frames)
            else:
                self.engine.process(dry, out)
                self._account(started, frames)
            np.copyto(outdata, out.T)
        except Exception as exc:  # noqa: BLE001 - a callback never raises: silence, count, report
            outdata.fill(0.0)
            stats.errors += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"

    def _exchange(self, dry: np.ndarray, out: np.ndarray, frames: int) -> None:
        """Worker design: queue the input, take the output `worker_latency_samples` old, keep the
        latency fixed across dropouts (a late block is skipped when it arrives, a lost one is silence)."""
        stats = self.stats
        if not self.in_ring.write(dry):
            stats.ring_overruns += 1
            self._owed -= frames
        if self._owed > 0:
            self._owed -= self.out_ring.discard(self._owed)
        if self._owed <= -frames:
            out.fill(0.0)
            self._owed += frames
        elif not self.out_ring.read_into(out):
            out.fill(0.0)
            stats.ring_underruns += 1
            self._owed += frames
        self.wake.set()

    def _account(self, started: float, frames: int) -> None:
        stats = self.stats
        load = (time.perf_counter() - started) * self.engine.sample_rate / frames
        stats.dsp_load = load
        stats.dsp_load_max = max(stats.dsp_load_max, load)
        stats._dsp_load_sum += load
        stats.blocks_processed += 1

    def _work(self) -> None:
        """Worker thread: wait for the callback's wake-up, separate what it queued."""
        while not self.stop_worker.is_set():
            self.wake.wait(0.1)
            self.wake.clear()
            self.work_pending()

    def work_pending(self) -> None:
        """Separate every whole block waiting in the input ring (the worker thread's step)."""
        while self.in_ring.available >= self.block_size and not self.stop_worker.is_set():
            started = time.perf_counter()
            self.in_ring.read_into(self._work_in)
            try:
                self.engine.process(self._work_in, self._work_out)
            except Exception as exc:  # noqa: BLE001 - reported by the UI thread
                self._work_out.fill(0.0)
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if not self.out_ring.write(self._work_out):
                self.stats.ring_overruns += 1
            self._account(started, self.block_size)


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


def _sd():
    import sounddevice as sd

    return sd


def list_audio_devices() -> list[dict]:
    """sounddevice's device list (dicts with name, hostapi name, channels, default rate)."""
    sd = _sd()
    apis = sd.query_hostapis()
    devices = []
    for index, device in enumerate(sd.query_devices()):
        devices.append({**dict(device), "index": index, "hostapi_name": apis[device["hostapi"]]["name"]})
    return devices


def _devices_text(kind: str) -> str:
    key = f"max_{kind}_channels"
    listed = [f"{d['index']} {d['name']!r} ({d['hostapi_name']}, {d[key]} {kind} ch)"
              for d in list_audio_devices() if d[key] > 0]
    return "; ".join(listed) if listed else "none (no audio server? start JACK: `jackd -d dummy -r 44100 &`)"


def resolve_device(spec: int | str | None, kind: str, channels: int) -> int:
    """Device index for `spec` (index, exact name, or case-insensitive substring); DeviceError listing
    the devices when none matches or it has fewer than `channels` `kind` ('input'/'output') channels."""
    sd = _sd()
    devices = list_audio_devices()
    key = f"max_{kind}_channels"
    if spec is None:
        index = sd.default.device[0 if kind == "input" else 1]
        if index is None or index < 0:
            raise DeviceError(f"no default {kind} device; available: {_devices_text(kind)}")
    elif isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if not 0 <= index < len(devices):
            raise DeviceError(f"{kind} device index {index} does not exist; available: {_devices_text(kind)}")
    else:
        matches = [d["index"] for d in devices if d[key] > 0 and d["name"] == spec]
        matches = matches or [d["index"] for d in devices if d[key] > 0 and str(spec).lower() in d["name"].lower()]
        if not matches:
            raise DeviceError(f"no {kind} device named {spec!r}; available: {_devices_text(kind)}")
        index = matches[0]
    device = devices[index]
    if device[key] < channels:
        raise DeviceError(f"{kind} device {index} {device['name']!r} has {device[key]} {kind} channels, "
                          f"{channels} asked for; pass --channels {max(device[key], 1)} or another device")
    return index


def choose_sample_rate(input_index: int, output_index: int, channels: int, wanted: int) -> tuple[int, str | None]:
    """`wanted` when both devices accept it, else the output device's default rate and a notice."""
    sd = _sd()
    try:
        sd.check_input_settings(input_index, channels=channels, dtype="float32", samplerate=wanted)
        sd.check_output_settings(output_index, channels=channels, dtype="float32", samplerate=wanted)
        return wanted, None
    except sd.PortAudioError as exc:
        fallback = int(sd.query_devices(output_index)["default_samplerate"])
        try:
            sd.check_input_settings(input_index, channels=channels, dtype="float32", samplerate=fallback)
            sd.check_output_settings(output_index, channels=channels, dtype="float32", samplerate=fallback)
        except sd.PortAudioError as exc2:
            raise DeviceError(f"the devices accept neither {wanted} Hz ({exc}) nor {fallback} Hz ({exc2}); "
                              "choose other devices or restart the audio server at 44100 Hz") from exc2
        return fallback, (f"the device cannot run at the model's {wanted} Hz ({exc}); running at {fallback} Hz "
                          f"and resampling in and out (a little more latency; for none, restart JACK with "
                          f"-r {wanted})")


def worker_latency_samples(separator, block_size: int) -> int:
    """What the worker design adds: one model hop rounded up to whole blocks (at least one block)."""
    hop = separator.model_metadata.stft.hop_samples
    return max(1, math.ceil(hop / block_size)) * block_size


def _close_with_timeout(close, timeout_seconds: float = 2.0) -> bool:
    """Run `close()` on a daemon thread; False if it did not return in time (a dead server)."""
    thread = threading.Thread(target=close, daemon=True)
    thread.start()
    thread.join(timeout_seconds)
    return not thread.is_alive()


WORKER_MODES = ("auto", "on", "off")


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
    sd = _sd()
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
    max_block = max(settings.block_size, 1024) * 4
    engine = LiveEngine(separator, midi=midi, fx=fx, wet=wet, bypass=bypass, max_block_samples=max_block,
                        ramp_seconds=settings.ramp_seconds)
    hop = separator.model_metadata.stft.hop_samples
    # auto: a quarter hop or less, where one callback in four or more carries a whole model step
    use_worker = settings.worker == "on" or (settings.worker == "auto" and settings.block_size <= hop // 4)
    report.worker = use_worker
    extra = worker_latency_samples(separator, settings.block_size) if use_worker else 0
    callback = _Callback(engine, settings.block_size, use_worker, extra)
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
    if use_worker:
        callback.thread.start()
    started = time.monotonic()
    server_lost = False
    stream.start()
    try:
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
        callback.stop_worker.set()
        callback.wake.set()
        if server_lost or not _close_with_timeout(stream.close):
            # PortAudio's JACK host API blocks forever closing a stream whose server died, and again
            # in sounddevice's exit handler (Pa_Terminate): give the stream up, let the process exit.
            server_lost = True
            _close_with_timeout(stream.close, 0.5)
            atexit.unregister(sd._exit_handler)
    report.seconds = time.monotonic() - started
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
