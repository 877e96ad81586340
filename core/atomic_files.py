"""Atomic writes: output goes to a hidden temporary beside its target and is renamed onto it when whole.

A run stopped mid-write (Ctrl-C, a full disk, a killed process) leaves the old file or none, never a
truncated one. The temporary's name carries the process id, so parallel writers never share one, and
ends in `.tmp`, so a cleaner can recognise what a stopped run left behind.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def temporary_path(path: str | os.PathLike) -> Path:
    """The hidden per-process temporary for `path`, in the same folder (so the rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, sole_writer: bool = False) -> Iterator[Path]:
    """Yield a temporary path (for a file or a folder) to write instead of `path`; rename it onto `path`
    when the block ends without an exception, else remove it. `sole_writer`: no other process writes
    `path`, so temporaries of it that any earlier (stopped) process left are removed first."""
    path = Path(path)
    tmp = temporary_path(path)
    for stale in (path.parent.glob(f".{glob.escape(path.name)}.*.tmp") if sole_writer else ()):
        _remove(stale)
    _remove(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_text(data: object, indent: int = 1) -> str:
    """`data` as the project's JSON files hold it: indented, non-ASCII kept, a trailing newline."""
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike, data: object, indent: int = 1) -> None:
    """Write `data` as `json_text` to `path` atomically."""
    write_text(path, json_text(data, indent))
