"""Render one pool item from recorded files: a music track (stereo) or a speech line (mono), both
44.1 kHz FLAC PCM_16, written atomically. These run in worker processes, one item per call.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from isovox.core.atomic_files import atomic_path
from isovox.core.audio_io import AtomicAudioWriter
from isovox.core.errors import AudioFileError
from isovox.training.corpus.conditioning import active_span, band_edge_hz, limit_peak, peak_normalise
from isovox.training.corpus.decode import decode_file, decode_member
from isovox.training.corpus.loops import loop_period_seconds
from isovox.training.corpus.sources import Exclusion, SourceFile
from isovox.training.corpus.speech_lines import LinePlan, Utterance

SAMPLE_RATE = 44100
MIN_ITEM_SECONDS = 5.0
SPEECH_TOP_DB, MUSIC_TOP_DB = 45.0, 60.0  # silence = this far below the loudest 20 ms frame


@dataclass(frozen=True)
class ItemResult:
    """What rendering one item gave: its length and band edge, or why it was left out."""

    item: str
    seconds: float = 0.0
    bandwidth_hz: float = 0.0
    voice: str | None = None
    note: str = ""
    excluded: Exclusion | None = None
    wrote: bool = False


@dataclass(frozen=True)
class TrackJob:
    """One music track to render into `out_path`."""

    file: SourceFile
    out_path: str
    cut_loops: bool


@dataclass(frozen=True)
class LineJob:
    """One speech line to render into `out_path` (utterances cached by `measure_utterance` in `cache_dir`)."""

    plan: LinePlan
    out_path: str
    cache_dir: str


def read_recording(file: SourceFile) -> tuple[np.ndarray, int]:
    """Decode a source file (a zip member too), with its `parts` summed in: (channels, samples), Hz."""
    audio, rate = decode_member(file.path, file.member) if file.member else decode_file(file.path)
    for part in file.parts:
        extra, extra_rate = decode_file(part)
        if extra_rate != rate:
            extra = soxr.resample(extra.T, extra_rate, rate).T
        if extra.shape[0] != audio.shape[0]:
            extra = np.broadcast_to(extra.mean(axis=0), (audio.shape[0], extra.shape[1]))
        n = max(audio.shape[1], extra.shape[1])
        audio = np.pad(audio, ((0, 0), (0, n - audio.shape[1]))) + np.pad(extra, ((0, 0), (0, n - extra.shape[1])))
    return audio.astype(np.float32, copy=False), rate


def to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """(channels, samples) resampled to 44.1 kHz with soxr (the band is kept as it is)."""
    if rate == SAMPLE_RATE:
        return audio
    return np.ascontiguousarray(soxr.resample(audio.T, rate, SAMPLE_RATE).T.astype(np.float32))


def _existing(path: str, voice: str | None = None) -> ItemResult:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return ItemResult(Path(path).stem, audio.shape[0] / rate, band_edge_hz(audio.T, rate), voice)


def _write(path: str, audio: np.ndarray) -> None:
    with AtomicAudioWriter(path, SAMPLE_RATE, audio.shape[0], subtype="PCM_16") as writer:
        writer.write(audio)
        writer.commit()


# --- workers (run in other processes) -----------------------------------------------------------

def render_track(job: TrackJob) -> ItemResult:
    """Decode, make stereo 44.1 kHz, trim silence (and repeats of a loop), write one music track."""
    item = Path(job.out_path).stem
    if os.path.exists(job.out_path):
        return _existing(job.out_path)
    try:
        audio, rate = read_recording(job.file)
    except AudioFileError as exc:
        return ItemResult(item, excluded=Exclusion(job.file.location, f"cannot decode: {exc}"))
    if audio.shape[0] > 2:
        return ItemResult(item, excluded=Exclusion(job.file.location, f"{audio.shape[0]} channels, not mono or "
                                                                      "stereo"))
    stereo = to_rate(np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio, rate)
    span = active_span(stereo, SAMPLE_RATE, MUSIC_TOP_DB)
    if span is None:
        return ItemResult(item, excluded=Exclusion(job.file.location, "silent"))
    stereo = stereo[:, span[0]:span[1]]
    notes = []
    if job.cut_loops:
        period = loop_period_seconds(stereo, SAMPLE_RATE)
        if period is not None:
            notes.append(f"{item}: one loop period kept, {period:.1f} s of {stereo.shape[1] / SAMPLE_RATE:.1f} s")
            stereo = stereo[:, :round(period * SAMPLE_RATE)]
    if stereo.shape[1] < MIN_ITEM_SECONDS * SAMPLE_RATE:
        return ItemResult(item, excluded=Exclusion(job.file.location, f"only {stereo.shape[1] / SAMPLE_RATE:.1f} s "
                                                                      f"of sound (< {MIN_ITEM_SECONDS:.0f} s)"))
    stereo, gain = limit_peak(stereo)
    if gain < 1.0:
        notes.append(f"{item}: scaled by {20 * np.log10(gain):.2f} dB to fit 16-bit PCM")
    _write(job.out_path, stereo)
    return ItemResult(item, stereo.shape[1] / SAMPLE_RATE, band_edge_hz(stereo, SAMPLE_RATE), note="; ".join(notes),
                      wrote=True)


@dataclass(frozen=True)
class MeasureJob:
    """One utterance to decode and trim; its trimmed samples are kept in `cache_dir` for `render_line`."""

    file: SourceFile
    cache_dir: str


def _cache_path(cache_dir: str, file: SourceFile) -> str:
    return os.path.join(cache_dir, hashlib.sha1(file.location.encode("utf-8")).hexdigest() + ".npz")


def measure_utterance(job: MeasureJob) -> Utterance | Exclusion:
    """Decode one utterance, find its span without leading and trailing silence, and cache that span
    (mono, own rate) so the line renderer does not decode the file again."""
    cached = _cache_path(job.cache_dir, job.file)
    if os.path.exists(cached):
        with np.load(cached) as data:
            return Utterance(job.file, int(data["rate"]), int(data["start"]), int(data["stop"]))
    try:
        audio, rate = read_recording(job.file)
    except AudioFileError as exc:
        return Exclusion(job.file.location, f"cannot decode: {exc}")
    span = active_span(audio, rate, SPEECH_TOP_DB)
    if span is None:
        return Exclusion(job.file.location, "silent")
    with atomic_path(cached) as tmp, tmp.open("wb") as f:
        np.savez(f, audio=audio.mean(axis=0)[span[0]:span[1]], rate=rate, start=span[0], stop=span[1])
    return Utterance(job.file, rate, *span)


def _trimmed(utterance: Utterance, cache_dir: str) -> np.ndarray:
    """The utterance's trimmed mono samples at its own rate: from the cache, else decoded again."""
    cached = _cache_path(cache_dir, utterance.file)
    if os.path.exists(cached):
        with np.load(cached) as data:
            return data["audio"]
    audio, _ = read_recording(utterance.file)
    return audio.mean(axis=0)[utterance.start:utterance.stop]


def render_line(job: LineJob) -> ItemResult:
    """Render one speech line: each utterance trimmed, resampled, peak-normalised, gaps of silence."""
    plan = job.plan
    if os.path.exists(job.out_path):
        return _existing(job.out_path, plan.voice)
    pieces: list[np.ndarray] = []
    for k, (utterance, peak_dbfs) in enumerate(zip(plan.utterances, plan.peaks_dbfs)):
        if k:
            pieces.append(np.zeros(round(plan.gaps_seconds[k - 1] * SAMPLE_RATE), np.float32))
        mono = _trimmed(utterance, job.cache_dir)
        pieces.append(peak_normalise(to_rate(mono[None], utterance.sample_rate)[0], peak_dbfs))
    line = np.concatenate(pieces)[None]
    _write(job.out_path, line)
    return ItemResult(plan.name, line.shape[1] / SAMPLE_RATE, band_edge_hz(line, SAMPLE_RATE), plan.voice, wrote=True)
