"""`isovox devices`: audio devices (PortAudio via sounddevice) and MIDI input ports (every rtmidi backend).

Every backend is tried explicitly; one that fails (no audio server, no ALSA sequencer, no JACK) is
listed with its error, never raised.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--audio-only", action="store_true", help="skip the MIDI ports")


def audio_lines() -> list[str]:
    """One line per audio device (`>`/`<` mark the default input/output), or why there are none."""
    try:
        import sounddevice as sd

        from .audio_devices import list_audio_devices
        devices = list_audio_devices()
        default_in, default_out = sd.default.device
    except (OSError, ImportError) as exc:     # PortAudio missing: sounddevice raises OSError on import
        return [f"  unavailable: {type(exc).__name__}: {exc} (install libportaudio2)"]
    if not devices:
        return ["  none (no audio server running? start one, e.g. `jackd -d dummy -r 44100 &`)"]
    lines = []
    for d in devices:
        mark = (">" if d["index"] == default_in else " ") + ("<" if d["index"] == default_out else " ")
        lines.append(f"{mark} {d['index']:3d}  {d['name']}  [{d['hostapi_name']}]  "
                     f"{d['max_input_channels']} in / {d['max_output_channels']} out  "
                     f"{d['default_samplerate']:.0f} Hz")
    return lines


def midi_lines() -> list[str]:
    """One block per rtmidi backend: its input ports, or the error it gave."""
    try:
        from .midi import list_midi_ports
        listing = list_midi_ports()
    except ImportError as exc:
        return [f"  unavailable: {exc} (pip install python-rtmidi)"]
    lines = []
    for backend, ports, error in listing:
        if error is not None:
            lines.append(f"  {backend}: unavailable ({error})")
        elif not ports:
            lines.append(f"  {backend}: no input ports (`isovox live --midi-virtual` opens one)")
        else:
            lines.append(f"  {backend}:")
            lines.extend(f"    {i:3d}  {name}" for i, name in enumerate(ports))
    return lines


def run(args: argparse.Namespace) -> int:
    print("Audio devices (> default input, < default output):")
    print("\n".join(audio_lines()))
    if not args.audio_only:
        print("MIDI input ports:")
        print("\n".join(midi_lines()))
    return 0
