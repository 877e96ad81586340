"""The live engine and callback without a device (real separator, real MIDI bytes), and the CLI's errors."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest
from isovox.core.errors import DeviceError
from isovox.host.audio_devices import resolve_device
from isovox.host.cli import main
from isovox.host.effect_spec import EffectSpecError, plugins_from_spec
from isovox.host.live_callback import LiveCallback, worker_latency_samples
from isovox.host.live_engine import LiveEngine
from isovox.host.midi import Control, MidiControl, MidiMapping
from isovox.host.streaming import StreamingSeparator
from pedalboard import Compressor, Reverb

RATE = 44100
HOP = 512


@pytest.fixture(scope="module")
def separator(tiny_model_path):
    return StreamingSeparator(model=tiny_model_path, device="cpu", max_block_samples=4096)


def _sine(seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * 330 * t), 0.4 * np.sin(2 * np.pi * 331 * t)]).astype(np.float32)


def _run(engine: LiveEngine, signal: np.ndarray, block: int, between=None) -> np.ndarray:
    out = np.zeros_like(signal)
    for k, start in enumerate(range(0, signal.shape[1], block)):
        if between is not None:
            between(k)
        engine.process(signal[:, start:start + block], out[:, start:start + block])
    return out


def test_midi_bypass_and_wet_sweep_through_the_engine_never_click(separator):
    """A sine through the real separator; MIDI bytes (with garbage) flip bypass and sweep wet between blocks."""
    signal = _sine()
    separator.reset()
    wet_only = _run(LiveEngine(separator), signal, 128)
    separator.reset()
    midi = MidiControl(MidiMapping(bypass=Control("cc", 64), wet=Control("cc", 1)))
    engine = LiveEngine(separator, midi=midi)

    def send(k: int) -> None:
        if k % 40 == 20:
            midi.push([0xB0, 64, 127])                      # toggle bypass
        if k % 15 == 7:
            midi.push([0xB0, 1, (k * 37) % 128])            # wet/dry
        if k % 50 == 3:
            midi.push([0xF0, 1, 2, 0xF7])                   # sysex: ignored, counted
            midi.push([0x40, 0x10])                         # running status: ignored, counted
    out = _run(engine, signal, 128, send)
    skip = separator.latency_samples + 1024
    own = max(np.abs(np.diff(signal)).max(), np.abs(np.diff(wet_only[:, skip:])).max())
    assert np.abs(np.diff(out[:, skip:])).max() <= own * 1.05
    counters = midi.counters
    assert counters.applied > 20 and counters.ignored_sysex >= 10 and counters.ignored_malformed >= 10
    assert engine.stats.input_peak > 0.4 and engine.stats.output_peak > 0


def test_engine_fx_stream_after_the_isolator(separator):
    signal = _sine(1.0)
    separator.reset()
    plain = _run(LiveEngine(separator), signal, 256)
    separator.reset()
    with_fx = _run(LiveEngine(separator, fx=Reverb(room_size=0.9, wet_level=0.5)), signal, 256)
    expected = Reverb(room_size=0.9, wet_level=0.5)(plain, RATE)
    np.testing.assert_allclose(with_fx, expected, atol=1e-5)


@pytest.mark.parametrize("block", [128, 256, 1024])
def test_worker_design_is_the_callback_design_delayed(separator, block):
    """The same real callback object, called as PortAudio would, in both designs; the worker adds a
    half hop rounded up to whole blocks."""
    signal = _sine(0.5)
    extra = worker_latency_samples(HOP, block)
    assert extra == {128: 256, 256: 256, 1024: 1024}[block]
    times = SimpleNamespace(inputBufferAdcTime=0.0, outputBufferDacTime=0.0, currentTime=0.0)
    results = {}
    for worker in (False, True):
        separator.reset()
        callback = LiveCallback(LiveEngine(separator), block, worker, extra)
        if worker:
            callback.start()
        out = np.zeros((signal.shape[1], 2), np.float32)
        frames = signal.shape[1] // block * block
        for start in range(0, frames, block):
            callback(np.ascontiguousarray(signal[:, start:start + block].T), out[start:start + block], block,
                     times, None)
            deadline = time.monotonic() + 5
            while worker and callback.out_ring.count < extra and time.monotonic() < deadline:
                time.sleep(0.001)
        callback.stop()
        results[worker] = out[:frames]
        assert callback.stats.dropped_blocks == 0 and callback.stats.errors == 0
    np.testing.assert_array_equal(results[True][extra:], results[False][:-extra])
    assert not results[True][:extra].any()


def test_callback_counts_status_flags_and_never_raises(separator):
    callback = LiveCallback(LiveEngine(separator), 64, worker=False)
    flags = SimpleNamespace(input_overflow=True, input_underflow=False, output_underflow=True,
                            output_overflow=False)
    times = SimpleNamespace(inputBufferAdcTime=1.0, outputBufferDacTime=1.01, currentTime=1.0)
    out = np.ones((64, 2), np.float32)
    callback(np.zeros((64, 2), np.float32), out, 64, times, flags)
    assert callback.stats.input_overflow == 1 and callback.stats.output_underflow == 1
    assert callback.stats.dropped_blocks == 1
    assert callback.stats.device_latency_seconds == pytest.approx(0.01)
    callback(np.zeros((64, 3), np.float32), out, 64, times, None)      # wrong shape: silenced, counted
    assert callback.stats.errors == 1 and not out.any() and "ValueError" in callback.stats.last_error


def test_fx_specs():
    reverb, compressor = plugins_from_spec("reverb, compressor:threshold_db=-20:ratio=4")
    assert isinstance(reverb, Reverb) and isinstance(compressor, Compressor)
    assert compressor.threshold_db == -20 and compressor.ratio == 4
    with pytest.raises(EffectSpecError, match="unknown effect 'wahwah'.*reverb"):
        plugins_from_spec("wahwah")
    with pytest.raises(EffectSpecError, match="key=number"):
        plugins_from_spec("reverb:room_size=big")


def test_fx_chain_file(tmp_path):
    path = tmp_path / "chain.json"
    path.write_text(json.dumps([{"plugin": "HighpassFilter", "cutoff_frequency_hz": 120}, {"plugin": "Reverb"}]))
    first, second = plugins_from_spec(str(path))
    assert first.cutoff_frequency_hz == 120 and isinstance(second, Reverb)
    path.write_text("[1, 2]")
    with pytest.raises(EffectSpecError, match="chain file"):
        plugins_from_spec(str(path))


def test_cli_errors_are_one_line_with_the_fix(tiny_model_path, capsys):
    assert main(["live", "--model", str(tiny_model_path), "--midi-learn", "wet"]) == 2
    assert "--midi-learn needs a MIDI input" in capsys.readouterr().err
    assert main(["live", "--model", str(tiny_model_path), "--fx", "wahwah"]) == 2
    assert "unknown effect 'wahwah'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["live", "--latency", "soon"])
    assert "expected low, high or seconds" in capsys.readouterr().err


def test_devices_never_raises_and_reports_each_midi_backend():
    done = subprocess.run([sys.executable, "-m", "isovox", "devices"], check=False, capture_output=True, text=True, timeout=60,
                          env={"JACK_DEFAULT_SERVER": "isovox-no-such-server", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "Audio devices" in done.stdout and "MIDI input ports" in done.stdout
    assert "jack:" in done.stdout


def test_no_device_lists_what_exists():
    import sounddevice as sd

    if any(d["max_input_channels"] for d in sd.query_devices()):
        with pytest.raises(DeviceError, match="no input device named 'no-such-device'; available: "):
            resolve_device("no-such-device", "input", 2)
    else:
        with pytest.raises(DeviceError, match="none \\(no audio server"):
            resolve_device("no-such-device", "input", 2)


def test_worker_dropouts_never_change_the_latency(separator):
    """A late worker (steps skipped) makes one block of silence; afterwards the output is aligned again."""
    signal, block = _sine(0.5), 128
    extra = worker_latency_samples(HOP, block)
    times = SimpleNamespace(inputBufferAdcTime=0.0, outputBufferDacTime=0.0, currentTime=0.0)
    results = {}
    for late in (False, True):
        separator.reset()
        callback = LiveCallback(LiveEngine(separator), block, True, extra)   # the worker step run by hand
        out = np.zeros((signal.shape[1], 2), np.float32)
        frames = signal.shape[1] // block * block
        for k, start in enumerate(range(0, frames, block)):
            callback(np.ascontiguousarray(signal[:, start:start + block].T), out[start:start + block], block,
                     times, None)
            if not (late and k in (10, 11)):
                callback.work_pending()
        results[late] = out[:frames]
        assert callback.stats.ring_underruns == (1 if late else 0)
    dropout = slice(12 * block, 13 * block)
    assert not results[True][dropout].any()
    np.testing.assert_array_equal(results[True][:dropout.start], results[False][:dropout.start])
    np.testing.assert_array_equal(results[True][dropout.stop:], results[False][dropout.stop:])
