"""Running the tracks of an `isovox separate` batch: one after another, or in parallel processes.

Each track goes through `Separator.separate_file` (its folders already made, see `batch.make_folders`).
A failure becomes the track's one-line `error` and the other tracks go on. Workers are spawned, not
forked (ONNX Runtime's thread pools do not survive a fork), each with its own model session and an
equal share of the CPU cores.
"""
from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from isovox.core.errors import IsovoxError

from .batch import Track
from .separator import Separator


@dataclass(frozen=True)
class TrackOptions:
    """What every track of a batch is written with (see `Separator.separate_file`)."""

    bit_depth: str | None = None
    clip_mode: str | None = None


@dataclass
class TrackResult:
    """What became of one track: the files written, its warnings, or its one-line error."""

    track: Track
    written: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0


def separate_track(separator: Separator, track: Track, options: TrackOptions,
                   progress: bool = False) -> TrackResult:
    """Separate one track; every failure is caught into the result, with no output left behind."""
    result = TrackResult(track)
    if not track.outputs:
        return result
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result.written = separator.separate_file(track.input, track.outputs, progress=progress,
                                                     bit_depth=options.bit_depth, clip_mode=options.clip_mode)
        result.warnings = [str(warning.message) for warning in caught]
    except IsovoxError as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
    except Exception as exc:  # one broken track must not stop the batch; ISOVOX_DEBUG=1 shows it
        if os.environ.get("ISOVOX_DEBUG"):
            raise
        result.error, result.exit_code = f"internal error: {type(exc).__name__}: {exc}", 1
    return result


def separate_in_parallel(tracks: list[Track], options: TrackOptions, separator_args: dict,
                         jobs: int) -> Iterator[TrackResult]:
    """Separate `tracks` in `jobs` spawned processes; yield each result as it finishes."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                             initargs=({**separator_args, "intra_op_threads": threads},)) as pool:
        futures = [pool.submit(_worker_track, track, options) for track in tracks]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


_worker_separator: Separator | None = None


def _start_worker(separator_args: dict) -> None:
    global _worker_separator
    _worker_separator = Separator(**separator_args)


def _worker_track(track: Track, options: TrackOptions) -> TrackResult:
    return separate_track(_worker_separator, track, options)
