"""MIDI: parsing and mapping at block boundaries, learn mode, JSON maps, real JACK MIDI ports."""
from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from isovox.core.errors import DeviceError
from isovox.host.midi import (
    Control,
    MidiControl,
    MidiMapError,
    MidiMapping,
    list_midi_ports,
    load_mapping,
    open_midi_input,
    save_mapping,
)
from jack_helpers import jack_server_or_skip


def _drain(control: MidiControl, *messages) -> bool:
    for message in messages:
        control.push(message)
    return control.drain()


def test_wet_cc_maps_0_127_to_0_1_and_toggle_bypass():
    control = MidiControl(MidiMapping(bypass=Control("cc", 64), wet=Control("cc", 1)))
    assert _drain(control, [0xB0, 1, 0]) and control.wet == 0.0
    assert _drain(control, [0xB3, 1, 127]) and control.wet == 1.0      # any channel
    _drain(control, [0xB0, 1, 64])
    assert control.wet == pytest.approx(64 / 127)
    assert _drain(control, [0xB0, 64, 127]) and control.bypass
    assert not _drain(control, [0xB0, 64, 0]) and control.bypass      # release does nothing in toggle
    assert _drain(control, [0xB0, 64, 100]) and not control.bypass
    assert not _drain(control, [0xB0, 64, 127]) and not control.bypass  # still held: no second toggle


def test_toggle_flips_on_the_rising_edge_only():
    """A sustain pedal streams values while it moves: one press is one toggle, however many values."""
    control = MidiControl(MidiMapping(bypass=Control("cc", 64)))
    press = [[0xB0, 64, v] for v in (70, 90, 127, 100, 64)]
    release = [[0xB0, 64, v] for v in (40, 10, 0)]
    for presses in range(1, 4):
        _drain(control, *press)
        assert control.bypass == (presses % 2 == 1), presses
        assert not _drain(control, *release) and control.bypass == (presses % 2 == 1)
    notes = MidiControl(MidiMapping(bypass=Control("note", 36)))
    _drain(notes, [0x90, 36, 100], [0x90, 36, 90], [0x80, 36, 0], [0x90, 36, 80], [0x90, 36, 0])
    assert not notes.bypass                                             # two presses: back to off


def test_the_learning_press_does_not_toggle():
    control = MidiControl(learn="bypass")
    _drain(control, [0xB2, 67, 127], [0xB2, 67, 110])                  # learned while held
    assert control.mapping.bypass == Control("cc", 67, 2) and not control.bypass
    _drain(control, [0xB2, 67, 0], [0xB2, 67, 127])
    assert control.bypass


def test_momentary_note_bypass_and_channel_filter():
    control = MidiControl(MidiMapping(bypass=Control("note", 60, channel=2), bypass_mode="momentary"))
    _drain(control, [0x92, 60, 100])
    assert control.bypass
    _drain(control, [0x82, 60, 0])
    assert not control.bypass
    _drain(control, [0x92, 60, 100], [0x92, 60, 0])                    # note-on velocity 0 = release
    assert not control.bypass
    _drain(control, [0x91, 60, 100])                                    # other channel: unmapped
    assert not control.bypass and control.counters.ignored_unmapped == 1


def test_malformed_sysex_running_status_out_of_range_are_counted_never_raised():
    control = MidiControl()
    bad = [[], [0xB0, 1], [0xB0, 1, 200], [1, 100], [0xF0, 0x7E, 0x7F, 0xF7], [0xF8], [0xB0, 1, 2, 3],
           ["x"], None, [0x1B0, 1, 1]]
    for message in bad:
        control.push(message)
    assert not control.drain()
    c = control.counters
    assert (c.received, c.applied) == (len(bad), 0)
    assert c.ignored_sysex == 2 and c.ignored_malformed == len(bad) - 2
    assert control.wet == 1.0 and not control.bypass


def test_queue_overflow_drops_oldest_and_counts():
    control = MidiControl()
    for value in range(1100):
        control.push([0xB0, 1, value % 128])
    control.drain()
    assert control.counters.dropped_overflow == 1100 - 1024
    assert control.wet == (1099 % 128) / 127


def test_learn_maps_next_moved_control_and_round_trips_json(tmp_path):
    control = MidiControl(learn="wet")
    _drain(control, [0x90, 40, 100])            # a note cannot drive wet/dry: still learning
    assert control.learn == "wet"
    _drain(control, [0xB5, 21, 10])
    assert control.learned and control.mapping.wet == Control("cc", 21, 5)
    _drain(control, [0xB5, 21, 127])
    assert control.wet == 1.0
    path = tmp_path / "map.json"
    save_mapping(control.mapping, path)
    assert load_mapping(path) == control.mapping
    assert json.loads(path.read_text())["wet"] == {"kind": "cc", "number": 21, "channel": 5}


def test_bad_map_files_say_what_to_do(tmp_path):
    with pytest.raises(MidiMapError, match="does not exist"):
        load_mapping(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(MidiMapError, match="not readable JSON"):
        load_mapping(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text('{"wet": {"kind": "cc", "number": 300}}')
    with pytest.raises(MidiMapError, match="malformed"):
        load_mapping(tmp_path / "bad2.json")


def test_listing_ports_reports_failures_and_never_raises():
    listing = list_midi_ports()
    assert listing and all(isinstance(backend, str) for backend, _, _ in listing)
    for _, ports, error in listing:
        assert error is None or ports == []


@pytest.mark.jack
def test_virtual_port_over_jack_midi_receives_real_messages():
    """A virtual input port (backend chosen explicitly, ALSA failures skipped) fed by a real JACK MIDI output."""
    import rtmidi

    with jack_server_or_skip() as server:
        control = MidiControl(MidiMapping(bypass=Control("cc", 64), wet=Control("cc", 7)))
        opened = open_midi_input(control, virtual_name="ctl_in", client_name="isovox-midi-test")
        try:
            assert opened.backend in ("alsa", "jack")
            if opened.backend != "jack":
                pytest.skip("ALSA sequencer works here; the JACK path is tested where ALSA is absent")
            sender = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="sender")
            sender.open_virtual_port("out")
            subprocess.run(["jack_connect", "sender:out", "isovox-midi-test:ctl_in"], check=True,
                           env=server.env())
            sender.send_message([0xB0, 7, 0])
            for value in (80, 127, 100):                 # a pedal pressed: values stream, one toggle
                sender.send_message([0xB0, 64, value])
            sender.send_message([0xF0, 1, 2, 0xF7])
            deadline = time.monotonic() + 2
            while control.counters.received < 5 and time.monotonic() < deadline:
                control.drain()
                time.sleep(0.01)
            assert control.wet == 0.0 and control.bypass
            assert control.counters.ignored_sysex == 1 and control.counters.received == 5
            sender.delete()
        finally:
            opened.close()


@pytest.mark.jack
def test_missing_midi_port_lists_what_exists():
    with jack_server_or_skip(), pytest.raises(DeviceError, match="cannot open MIDI input port 'no-such-port'"):
        open_midi_input(MidiControl(), port="no-such-port")


def test_midi_callback_thread_and_drain_thread_share_only_the_deque():
    control = MidiControl()
    sender = threading.Thread(target=lambda: [control.rtmidi_callback(([0xB0, 1, i % 128], 0.0))
                                              for i in range(5000)])
    sender.start()
    while sender.is_alive():
        control.drain()
    control.drain()
    assert control.counters.received + control.counters.dropped_overflow == 5000


def test_pushing_into_a_full_queue_while_it_drains_never_raises():
    """The old `len()` check + `popleft()` raised IndexError when the audio thread emptied the queue
    in between; the bounded deque drops the oldest message inside the append."""
    control = MidiControl()
    errors: list[BaseException] = []

    def send() -> None:
        try:
            for i in range(50_000):
                control.push([0xB0, 1, i % 128])
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever the thread raised
            errors.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    counts = []
    while sender.is_alive():
        control.drain()
        counts.append(control.counters.dropped_overflow)
    control.drain()
    assert errors == []
    assert counts == sorted(counts)                                      # the drop count never goes back
    assert control.counters.received + control.counters.dropped_overflow == 50_000
