"""`isovox live`: isolate vocals from an input device to an output device, controlled by MIDI.

Prints a status line (meters, wet/dry, bypass, latency, DSP load, dropped blocks) while it runs and
a summary when it stops (--duration, Ctrl-C, or the audio server going away). --report FILE also
writes the summary as JSON (for scripts and tests).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from isovox.core.atomic_files import write_json

RESAMPLE_QUALITIES = {"low": "LQ", "high": "HQ"}   # --resample-quality → soxr's quality recipe


def _latency(value: str) -> str | float:
    if value in ("low", "high"):
        return value
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--latency {value!r}: expected low, high or seconds (e.g. 0.01)")
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"--latency {value!r}: seconds must be > 0")
    return seconds


def _device(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=_device, default=None, help="input device: index or name (default: system default)")
    parser.add_argument("--output", type=_device, default=None, help="output device: index or name")
    parser.add_argument("--block-size", type=int, default=256, help="samples per audio callback (default 256)")
    parser.add_argument("--channels", type=int, default=2, help="audio channels in and out (default 2)")
    parser.add_argument("--latency", type=_latency, default="low", help="low | high | SECONDS (PortAudio's suggestion)")
    parser.add_argument("--model", default="default", help="'default' (shipped) or an isovox ONNX file")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="ONNX Runtime device")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument("--wet", type=float, default=1.0, help="0 (dry) .. 1 (vocals only), default 1")
    parser.add_argument("--bypass", action="store_true", help="start bypassed")
    parser.add_argument("--fx", default=None,
                        help="pedalboard effects after the isolator: 'reverb,compressor:threshold_db=-20' "
                             "or a JSON chain file")
    parser.add_argument("--worker", choices=("auto", "on", "off"), default="auto",
                        help="separate on a worker thread: steadier callbacks for blocks smaller than the "
                             "model's hop, for half a hop (rounded up to whole blocks) more latency "
                             "(auto: on when --block-size is under the hop, 512)")
    parser.add_argument("--resample-quality", choices=("low", "high"), default="low",
                        help="when the device's rate is not the model's 44.1 kHz: low adds ~4 ms at 48 kHz "
                             "(-0.2 dB at 16 kHz, -7 dB at 18 kHz), high ~32 ms (flat to 20 kHz); default low")
    midi = parser.add_mutually_exclusive_group()
    midi.add_argument("--midi", type=_device, default=None, metavar="PORT", help="MIDI input port (name or index)")
    midi.add_argument("--midi-virtual", nargs="?", const="isovox", default=None, metavar="NAME",
                      help="open a virtual MIDI input port (default name 'isovox')")
    parser.add_argument("--midi-map", default=None, metavar="FILE",
                        help="JSON mapping of bypass/wet controls (read if it exists; written by --midi-learn)")
    parser.add_argument("--midi-learn", choices=("wet", "bypass"), default=None,
                        help="map the next moved control to wet/dry or bypass (saved to --midi-map)")
    parser.add_argument("--bypass-mode", choices=("toggle", "momentary"), default=None,
                        help="how the bypass control acts (overrides the map file)")
    parser.add_argument("--report", default=None, metavar="FILE", help="write the run's figures as JSON")


def _midi_control(args):
    from dataclasses import replace

    from .midi import MidiControl, MidiMapping, load_mapping

    mapping = MidiMapping()
    if args.midi_map and (Path(args.midi_map).exists() or not args.midi_learn):
        mapping = load_mapping(args.midi_map)
    if args.bypass_mode:
        mapping = replace(mapping, bypass_mode=args.bypass_mode)
    return MidiControl(mapping, wet=args.wet, bypass=args.bypass, learn=args.midi_learn)


def run(args: argparse.Namespace) -> int:
    from isovox.core.errors import DeviceError

    from .effect_spec import plugins_from_spec
    from .effects import Chain
    from .live import LiveSettings, run_live, status_line
    from .midi import open_midi_input, save_mapping
    from .streaming import StreamingSeparator

    if args.midi_learn and not (args.midi or args.midi_virtual):
        raise DeviceError("--midi-learn needs a MIDI input: add --midi PORT or --midi-virtual")
    fx = Chain(plugins_from_spec(args.fx), channels=args.channels) if args.fx else None
    settings = LiveSettings(input=args.input, output=args.output, block_size=args.block_size,
                            channels=args.channels, latency=args.latency, worker=args.worker)

    def make_separator(sample_rate, resample):
        return StreamingSeparator(model=args.model, device=args.device, sample_rate=sample_rate,
                                  channels=args.channels, max_block_samples=max(args.block_size, 1024) * 4,
                                  resample=resample, intra_op_threads=args.threads,
                                  resample_quality=RESAMPLE_QUALITIES[args.resample_quality])

    midi = opened = None
    if args.midi is not None or args.midi_virtual is not None:
        midi = _midi_control(args)
        opened = open_midi_input(midi, port=args.midi, virtual_name=args.midi_virtual)
        print(f"MIDI: {opened.backend} port {opened.port_name!r}"
              + (f" (skipped: {'; '.join(opened.tried)})" if opened.tried else ""), file=sys.stderr)
        if args.midi_learn:
            print(f"MIDI learn: move the control for {args.midi_learn}", file=sys.stderr)

    interactive = sys.stderr.isatty()
    last_printed = [-1.0]

    def on_status(report) -> None:
        if midi is not None and midi.learned:
            midi.learned = False
            where = args.midi_map or "(no --midi-map: not saved)"
            if args.midi_map:
                save_mapping(midi.mapping, args.midi_map)
            print(f"\nMIDI learn: {midi.mapping.to_json()} saved to {where}", file=sys.stderr)
        if interactive:
            print("\r" + status_line(report), end="", file=sys.stderr, flush=True)
        elif report.seconds - last_printed[0] >= 1.0:
            last_printed[0] = report.seconds
            print(status_line(report), file=sys.stderr, flush=True)

    error = None
    report = None
    try:
        report = run_live(settings, make_separator, midi=midi, fx=fx, wet=args.wet, bypass=args.bypass,
                          duration_seconds=args.duration, on_status=on_status)
    except DeviceError as exc:
        error = exc
    finally:
        if interactive:
            print(file=sys.stderr)
        if opened is not None and not (error and "audio server stopped" in str(error)):
            opened.close()
    if error is not None:
        raise error
    for notice in report.notices:
        print(f"note: {notice}", file=sys.stderr)
    summary = _summary(report, midi)
    print("  ".join(f"{k}={v}" for k, v in summary.items()))
    if args.report:
        write_json(args.report, summary, indent=2)
    return 0


def _summary(report, midi) -> dict:
    stats = report.stats
    summary = {
        "ended_by": report.ended_by, "seconds": round(report.seconds, 3),
        "input_device": report.input_device, "output_device": report.output_device,
        "sample_rate": report.sample_rate, "block_size": report.block_size, "resampling": report.resampling,
        "worker": report.worker, "realtime_threads": report.realtime_threads,
        "processing_latency_samples": report.processing_latency_samples,
        "device_latency_seconds": list(report.device_latency_seconds),
        "total_latency_samples": report.total_latency_samples,
        "total_latency_ms": round(1000 * report.total_latency_samples / report.sample_rate, 2),
        "callbacks": stats.callbacks, "dropped_blocks": stats.dropped_blocks,
        "input_overflow": stats.input_overflow, "input_underflow": stats.input_underflow,
        "output_underflow": stats.output_underflow, "output_overflow": stats.output_overflow,
        "ring_underruns": stats.ring_underruns, "ring_overruns": stats.ring_overruns,
        "dsp_load_mean": round(stats.dsp_load_mean, 4), "dsp_load_max": round(stats.dsp_load_max, 4),
        "wet": stats.wet, "bypass": stats.bypass,
    }
    if midi is not None:
        counters = midi.counters
        summary.update(midi_received=counters.received, midi_applied=counters.applied,
                       midi_ignored=counters.ignored_malformed + counters.ignored_sysex + counters.ignored_unmapped,
                       midi_queue_to_block_ms=(round(1000 * counters.last_latency_seconds, 3)
                                               if math.isfinite(counters.last_latency_seconds) else None))
    return summary
