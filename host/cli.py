"""The `isovox` command line: one dispatcher, one module per subcommand.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int`` and keeps heavy
imports (torch, onnxruntime, sounddevice) inside ``run`` so `isovox --help` stays fast and `separate`
never imports torch. Library code raises `IsovoxError`; only this module turns errors into exit codes.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from isovox.core.errors import IsovoxError

from isovox import __version__

# modules that only an optional extra installs → that extra (`pip install 'isovox[EXTRA]'`)
EXTRA_MODULES = {"torch": "train", "onnx": "train", "onnxscript": "train", "mido": "train", "scipy": "train",
                 "museval": "bench", "librosa": "bench", "matplotlib": "plot"}

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "separate": ("isovox.host.cli_separate", "isolate the vocals of an audio file"),
    "info": ("isovox.host.cli_info", "show a model's metadata and the available execution providers"),
    "live": ("isovox.host.cli_live", "isolate vocals from a live input to an output device"),
    "devices": ("isovox.host.cli_devices", "list audio devices and MIDI ports"),
    "bench": ("isovox.host.cli_bench", "measure latency, per-block time, offline speed and quality"),
    "export": ("isovox.export.cli", "turn a training checkpoint into an ONNX model"),
    "train": ("isovox.training.cli_train", "train a model on stems (needs the [train] extra)"),
    "make-corpus": ("isovox.training.corpus.cli", "render the built-in synthetic training corpus"),
    "prepare-data": ("isovox.training.corpus.cli_prepare", "decode the recorded speech and music sources into pools"),
    "prepare-voices": ("isovox.training.corpus.cli_voices", "render singing and synthetic-speech lines into pools"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isovox", description="Isolate the human voice from music.")
    parser.add_argument("--version", action="version", version=f"isovox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)   # light: extras are imported inside run()
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except IsovoxError as exc:
        print(f"isovox: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("isovox: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:  # subcommands import their extra's modules inside run()
        message = missing_extra_message(args.command, exc)
        if message is None:
            return _internal_error(exc)
        print(f"isovox: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - never a traceback for a user; ISOVOX_DEBUG=1 shows it
        return _internal_error(exc)


def missing_extra_message(command: str, exc: ModuleNotFoundError) -> str | None:
    """The one-line fix when `exc` is a module of an optional extra, else None."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_MODULES.get(module)
    if extra is None:
        return None
    return (f"`isovox {command}` needs {module}, which the [{extra}] extra installs: "
            f"pip install 'isovox[{extra}]'")


def _internal_error(exc: Exception) -> int:
    if os.environ.get("ISOVOX_DEBUG"):
        raise exc
    print(f"isovox: internal error: {type(exc).__name__}: {exc} (ISOVOX_DEBUG=1 shows the traceback)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
