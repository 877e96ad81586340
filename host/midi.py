"""MIDI control of the live isolator: bypass and wet/dry from controllers, learn mode, JSON mappings.

Threads: python-rtmidi calls `MidiControl.push` on its own thread; `push` only appends the raw
message to a bounded `collections.deque` (atomic under the GIL; when full, the append itself drops the
oldest message, so no length check can race the consumer). The audio callback calls
`MidiControl.drain()` at each block boundary, which parses the queued messages, updates the target
`bypass` / `wet`, and counts what it ignored (malformed, sysex, running status, out-of-range data,
unmapped controls). Nothing here raises in a callback. Opening ports (`open_midi_input`) tries each
rtmidi backend explicitly (ALSA, then JACK, ...) and reports every failure instead of raising.
"""
from __future__ import annotations

import collections
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from isovox.core.atomic_files import write_json
from isovox.core.errors import DeviceError

DEFAULT_VIRTUAL_NAME = "isovox"
QUEUE_LIMIT = 1024                      # the deque drops the oldest message beyond this (counted)
PRESS_THRESHOLD = 64                    # CC values from this up are "pressed" (sustain-pedal convention)
BYPASS_MODES = ("toggle", "momentary")
LEARN_TARGETS = ("wet", "bypass")


class MidiMapError(DeviceError):
    """A MIDI mapping file is unreadable or malformed."""


@dataclass(frozen=True)
class Control:
    """One physical control: a CC number or a note number, on one channel (0-15) or any (None)."""

    kind: str                 # "cc" or "note"
    number: int               # 0-127
    channel: int | None = None

    def matches(self, kind: str, number: int, channel: int) -> bool:
        return kind == self.kind and number == self.number and self.channel in (None, channel)


@dataclass(frozen=True)
class MidiMapping:
    """Which control drives bypass (toggle on each press, or momentary: held = bypassed) and wet/dry (a CC).

    A press is the rising edge: a CC crossing up to >= 64 or a note-on; a pedal that streams values
    while held (64, 90, 127, ...) toggles once."""

    bypass: Control | None = Control("cc", 64)           # sustain pedal
    bypass_mode: str = "toggle"
    wet: Control | None = Control("cc", 1)                # mod wheel

    def __post_init__(self) -> None:
        if self.bypass_mode not in BYPASS_MODES:
            raise MidiMapError(f"bypass_mode {self.bypass_mode!r} is not one of {BYPASS_MODES}")
        if self.wet is not None and self.wet.kind != "cc":
            raise MidiMapError(f"wet/dry must be a CC, not a {self.wet.kind}; map it with --midi-learn")

    def to_json(self) -> dict:
        return {"bypass": asdict(self.bypass) if self.bypass else None, "bypass_mode": self.bypass_mode,
                "wet": asdict(self.wet) if self.wet else None}

    @classmethod
    def from_json(cls, data: dict) -> MidiMapping:
        try:
            return cls(bypass=_control(data.get("bypass")), bypass_mode=data.get("bypass_mode", "toggle"),
                       wet=_control(data.get("wet")))
        except (TypeError, ValueError, AttributeError) as exc:
            raise MidiMapError(f"MIDI mapping {data!r} is malformed ({exc}); expected "
                               '{"bypass": {"kind": "cc", "number": 64, "channel": null}, '
                               '"bypass_mode": "toggle", "wet": {"kind": "cc", "number": 1}}') from exc


def _control(data: dict | None) -> Control | None:
    if data is None:
        return None
    kind, number, channel = data["kind"], int(data["number"]), data.get("channel")
    if kind not in ("cc", "note") or not 0 <= number <= 127 or channel not in (None, *range(16)):
        raise ValueError(f"bad control {data}")
    return Control(kind, number, channel)


def load_mapping(path: str | os.PathLike) -> MidiMapping:
    """Read a mapping written by `save_mapping` (a small JSON file)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as exc:
        raise MidiMapError(f"MIDI map file {str(path)!r} does not exist; create it with --midi-learn") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise MidiMapError(f"MIDI map file {str(path)!r} is not readable JSON ({exc}); "
                           "delete it and map again with --midi-learn") from exc
    if not isinstance(data, dict):
        raise MidiMapError(f"MIDI map file {str(path)!r} holds {type(data).__name__}, expected a JSON object")
    return MidiMapping.from_json(data)


def save_mapping(mapping: MidiMapping, path: str | os.PathLike) -> None:
    """Write `mapping` as JSON atomically (temp file + rename)."""
    write_json(path, mapping.to_json(), indent=2)


@dataclass
class MidiCounters:
    """What `drain` saw; read by the UI thread (plain ints, written only by the audio thread)."""

    received: int = 0
    applied: int = 0
    ignored_malformed: int = 0     # wrong length, data byte >= 0x80, running status, empty
    ignored_sysex: int = 0         # sysex and other system messages
    ignored_unmapped: int = 0      # valid but not mapped (other CCs, notes, pitch bend, ...)
    dropped_overflow: int = 0      # queue full: oldest messages dropped (exact once drained and quiet)
    last_latency_seconds: float = field(default=float("nan"))   # message arrival -> applied at a block


class MidiControl:
    """Turns queued raw MIDI messages into `bypass` and `wet` targets at block boundaries.

    `learn` ("wet" or "bypass") maps the next moved control to that target; `learned` is then set
    and the UI thread may save `mapping`.
    """

    def __init__(self, mapping: MidiMapping | None = None, wet: float = 1.0, bypass: bool = False,
                 learn: str | None = None) -> None:
        if learn is not None and learn not in LEARN_TARGETS:
            raise MidiMapError(f"learn target {learn!r} is not one of {LEARN_TARGETS}")
        self.mapping = mapping or MidiMapping()
        self.wet = float(wet)
        self.bypass = bool(bypass)
        self.learn = learn
        self.learned = False
        self.counters = MidiCounters()
        self._queue: collections.deque = collections.deque(maxlen=QUEUE_LIMIT)
        self._pushed = 0                 # written by the MIDI thread only
        self._bypass_held = False        # last state of the bypass control, for edge detection

    # --- MIDI thread -------------------------------------------------------------------------------
    def push(self, message, arrival_time: float | None = None) -> None:
        """Queue one raw message (a sequence of ints); safe from any thread, never raises."""
        self._queue.append((message, time.monotonic() if arrival_time is None else arrival_time))
        self._pushed += 1       # after the append, so `drain` never counts a drop that did not happen

    def rtmidi_callback(self, event, data=None) -> None:
        """python-rtmidi callback: `event` is (message, delta_seconds)."""
        self.push(event[0])

    # --- audio thread ------------------------------------------------------------------------------
    def drain(self) -> bool:
        """Apply every queued message; returns True when `wet` or `bypass` changed."""
        changed = False
        while self._queue:
            message, arrival = self._queue.popleft()   # this thread is the only consumer
            self.counters.received += 1
            if self._apply(message):
                changed = True
                self.counters.applied += 1
                self.counters.last_latency_seconds = time.monotonic() - arrival
        # pushed = received + queued + dropped; reading pushed before the length can only undercount
        # while a push runs concurrently, and the max keeps the count monotonic
        pushed = self._pushed
        dropped = pushed - self.counters.received - len(self._queue)
        self.counters.dropped_overflow = max(self.counters.dropped_overflow, dropped)
        return changed

    def _apply(self, message) -> bool:
        parsed = self._parse(message)
        if parsed is None:
            return False
        kind, channel, number, value = parsed
        if self.learn is not None:
            return self._learn(kind, channel, number, value)
        mapping = self.mapping
        if mapping.wet is not None and mapping.wet.matches(kind, number, channel):
            self.wet = value / 127.0
            return True
        if mapping.bypass is not None and mapping.bypass.matches(kind, number, channel):
            pressed = _pressed(kind, value)
            was_held, self._bypass_held = self._bypass_held, pressed
            if mapping.bypass_mode == "momentary":
                self.bypass = pressed
            elif pressed and not was_held:
                self.bypass = not self.bypass
            else:
                return False
            return True
        self.counters.ignored_unmapped += 1
        return False

    def _parse(self, message) -> tuple[str, int, int, int] | None:
        """(kind, channel, number, value) for CC / note on / note off, else None (counted)."""
        try:
            if len(message) == 0:
                raise ValueError
            status = int(message[0])
            if status < 0x80 or status > 0xFF:        # running status or garbage
                raise ValueError
            if status >= 0xF0:
                self.counters.ignored_sysex += 1
                return None
            expected = 2 if status & 0xF0 in (0xC0, 0xD0) else 3
            data = [int(b) for b in message[1:]]
            if len(message) != expected or any(not 0 <= b <= 0x7F for b in data):
                raise ValueError
        except (ValueError, TypeError):
            self.counters.ignored_malformed += 1
            return None
        kind_bits, channel = status & 0xF0, status & 0x0F
        if kind_bits == 0xB0:
            return "cc", channel, data[0], data[1]
        if kind_bits == 0x90:
            return "note", channel, data[0], data[1]
        if kind_bits == 0x80:
            return "note", channel, data[0], 0
        self.counters.ignored_unmapped += 1
        return None

    def _learn(self, kind: str, channel: int, number: int, value: int) -> bool:
        control = Control(kind, number, channel)
        if self.learn == "wet":
            if kind != "cc":      # wet/dry needs a continuous control: wait for a CC
                self.counters.ignored_unmapped += 1
                return False
            self.mapping = MidiMapping(bypass=self.mapping.bypass, bypass_mode=self.mapping.bypass_mode,
                                       wet=control)
        else:
            self.mapping = MidiMapping(bypass=control, bypass_mode=self.mapping.bypass_mode,
                                       wet=self.mapping.wet)
            self._bypass_held = _pressed(kind, value)   # the learning press itself does not toggle
        self.learn = None
        self.learned = True
        return False


def _pressed(kind: str, value: int) -> bool:
    """Whether a bypass control's value means held down (a note-off arrives as velocity 0)."""
    return value >= PRESS_THRESHOLD if kind == "cc" else value > 0


# --- ports -------------------------------------------------------------------------------------------

def _rtmidi():
    import rtmidi

    return rtmidi


def backend_order() -> list[tuple[int, str]]:
    """(api, name) for every compiled rtmidi backend: ALSA first, then JACK, then the rest."""
    rtmidi = _rtmidi()
    preferred = [rtmidi.API_LINUX_ALSA, rtmidi.API_UNIX_JACK, rtmidi.API_MACOSX_CORE, rtmidi.API_WINDOWS_MM]
    compiled = list(rtmidi.get_compiled_api())
    ordered = [api for api in preferred if api in compiled] + [api for api in compiled if api not in preferred]
    return [(api, rtmidi.get_api_name(api)) for api in ordered]


def list_midi_ports() -> list[tuple[str, list[str], str | None]]:
    """(backend, input port names, error or None) for every backend; failures reported, never raised."""
    rtmidi = _rtmidi()
    result = []
    for api, name in backend_order():
        try:
            probe = rtmidi.MidiIn(api, name="isovox-probe")
            ports = list(probe.get_ports())
            probe.delete()
            result.append((name, ports, None))
        except (rtmidi.RtMidiError, RuntimeError, OSError) as exc:
            result.append((name, [], f"{type(exc).__name__}: {exc}"))
    return result


@dataclass
class OpenedMidiInput:
    midi_in: object            # rtmidi.MidiIn
    backend: str
    port_name: str
    tried: list[str]           # "backend: why it failed" for each backend skipped

    def close(self) -> None:
        self.midi_in.cancel_callback()
        self.midi_in.close_port()
        self.midi_in.delete()


def open_midi_input(control: MidiControl, port: str | int | None = None,
                    virtual_name: str | None = None, client_name: str = "isovox") -> OpenedMidiInput:
    """Connect `control` to an existing input `port` (name substring or index) or a new virtual port.

    Backends are tried in `backend_order()`; one that fails to start (ALSA without a sequencer, JACK
    without a server) or lacks the port is skipped and reported in `tried`. Raises DeviceError
    listing every backend's ports when none works.
    """
    rtmidi = _rtmidi()
    if (port is None) == (virtual_name is None):
        raise DeviceError("give exactly one of a MIDI port (--midi) or a virtual port name (--midi-virtual)")
    tried: list[str] = []
    seen: list[str] = []
    for api, backend in backend_order():
        try:
            midi_in = rtmidi.MidiIn(api, name=client_name, queue_size_limit=QUEUE_LIMIT)
        except (rtmidi.RtMidiError, RuntimeError, OSError) as exc:
            tried.append(f"{backend}: {exc}")
            continue
        try:
            if virtual_name is not None:
                midi_in.open_virtual_port(virtual_name)
                port_name = f"{client_name}:{virtual_name}" if backend == "jack" else virtual_name
            else:
                ports = list(midi_in.get_ports())
                seen.extend(f"{backend} {i}: {p}" for i, p in enumerate(ports))
                index = _find_port(ports, port)
                if index is None:
                    tried.append(f"{backend}: no input port {port!r}")
                    midi_in.delete()
                    continue
                midi_in.open_port(index)
                port_name = ports[index]
        except (rtmidi.RtMidiError, NotImplementedError, RuntimeError, OSError) as exc:
            tried.append(f"{backend}: {exc}")
            midi_in.delete()
            continue
        midi_in.ignore_types(sysex=False, timing=True, active_sense=True)  # sysex arrives, is counted
        midi_in.set_callback(control.rtmidi_callback)
        return OpenedMidiInput(midi_in, backend, port_name, tried)
    what = f"virtual port {virtual_name!r}" if virtual_name is not None else f"input port {port!r}"
    ports_text = "; ".join(seen) if seen else "none"
    raise DeviceError(f"cannot open MIDI {what} ({'; '.join(tried)}); available ports: {ports_text}; "
                      "start a JACK server or pass another --midi port (see `isovox devices`)")


def _find_port(ports: list[str], port: str | int) -> int | None:
    if isinstance(port, int) or str(port).isdigit():
        index = int(port)
        return index if 0 <= index < len(ports) else None
    exact = [i for i, name in enumerate(ports) if name == port]
    if exact:
        return exact[0]
    partial = [i for i, name in enumerate(ports) if str(port).lower() in name.lower()]
    return partial[0] if partial else None
