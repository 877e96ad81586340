"""Plan speech *lines*: short utterances of one speaker joined into 20–60 s files with random gaps.

A line never mixes speakers, so one line is one voice. Everything random (line length target, gaps,
each utterance's peak level) comes from a generator seeded with (source, line index), so the same
utterances always give the same plan and the rendered audio is deterministic.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
from isovox.training.corpus.sources import Exclusion, SourceFile

LINE_SECONDS = (20.0, 60.0)
GAP_SECONDS = (0.1, 1.5)
PEAK_DBFS = (-6.0, -1.0)
MIN_LINE_SECONDS = 5.0


@dataclass(frozen=True)
class Utterance:
    """One recorded utterance with its silence trimmed: samples [start, stop) at its own sample rate."""

    file: SourceFile
    sample_rate: int
    start: int
    stop: int

    @property
    def seconds(self) -> float:
        return (self.stop - self.start) / self.sample_rate


@dataclass(frozen=True)
class LinePlan:
    """One line to render: utterances in order, each with its peak level (dBFS), and the gaps between."""

    name: str
    index: int
    speaker: str
    voice: str
    utterances: tuple[Utterance, ...]
    peaks_dbfs: tuple[float, ...]
    gaps_seconds: tuple[float, ...]  # len(utterances) - 1

    @property
    def seconds(self) -> float:
        return sum(u.seconds for u in self.utterances) + sum(self.gaps_seconds)

    @property
    def voiced_seconds(self) -> float:
        return sum(u.seconds for u in self.utterances)


def line_rng(source_name: str, index: int) -> np.random.Generator:
    """The generator of one line: seeded by (source, line index) only."""
    return np.random.default_rng([zlib.crc32(source_name.encode("utf-8")), index])


def slug(text: str) -> str:
    """A file-name-safe form of a speaker or item id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


class _OpenLine:
    """A line being filled: its generator, target length and parts so far."""

    def __init__(self, source_name: str, index: int):
        self.index = index
        self.rng = line_rng(source_name, index)
        self.target = float(self.rng.uniform(*LINE_SECONDS))
        self.utterances: list[Utterance] = []
        self.peaks: list[float] = []
        self.gaps: list[float] = []

    @property
    def seconds(self) -> float:
        return sum(u.seconds for u in self.utterances) + sum(self.gaps)

    def add(self, utterance: Utterance, gap: float) -> None:
        if self.utterances:
            self.gaps.append(gap)
        self.utterances.append(utterance)
        self.peaks.append(round(float(self.rng.uniform(*PEAK_DBFS)), 3))

    def draw_gap(self) -> float:
        return round(float(self.rng.uniform(*GAP_SECONDS)), 4)


def _speaker_lines(source_name: str, first_index: int, utterances: list[Utterance]) -> list[_OpenLine]:
    lines = [_OpenLine(source_name, first_index)]
    for utterance in utterances:
        line = lines[-1]
        gap = line.draw_gap() if line.utterances else 0.0
        if line.utterances and line.seconds + gap + utterance.seconds > LINE_SECONDS[1]:
            line = _OpenLine(source_name, line.index + 1)
            lines.append(line)
            gap = 0.0
        line.add(utterance, gap)
        if line.seconds >= line.target:
            lines.append(_OpenLine(source_name, line.index + 1))
    if not lines[-1].utterances:
        lines.pop()
    if len(lines) >= 2 and lines[-1].seconds < LINE_SECONDS[0]:
        _rebalance_tail(lines[-2], lines[-1])
        if not lines[-1].utterances:
            lines.pop()
    return lines


def _rebalance_tail(previous: _OpenLine, last: _OpenLine) -> None:
    """Fold a short last line into the one before, or, if that would pass 60 s, share their
    utterances out again, cut at the boundary nearest the middle (two lines of about 30 s)."""
    utterances = previous.utterances + last.utterances
    peaks = previous.peaks + last.peaks
    gaps = [*previous.gaps, last.draw_gap(), *last.gaps]
    total = sum(u.seconds for u in utterances) + sum(gaps)
    cut = len(utterances)
    if total > LINE_SECONDS[1]:
        ends = np.cumsum([u.seconds + (gaps[k] if k < len(gaps) else 0.0) for k, u in enumerate(utterances)])
        cut = int(np.argmin(np.abs(ends[:-1] - total / 2))) + 1
    previous.utterances, previous.peaks, previous.gaps = utterances[:cut], peaks[:cut], gaps[:cut - 1]
    last.utterances, last.peaks, last.gaps = utterances[cut:], peaks[cut:], gaps[cut:]


def plan_lines(source_name: str, utterances: list[Utterance]) -> tuple[list[LinePlan], list[Exclusion]]:
    """Lines for every speaker (speakers in sorted order, utterances in item order), and the
    utterances left out because their speaker's last line would be shorter than 5 s."""
    by_speaker: dict[str, list[Utterance]] = {}
    for utterance in sorted(utterances, key=lambda u: u.file.item_id):
        by_speaker.setdefault(utterance.file.speaker or "", []).append(utterance)
    plans: list[LinePlan] = []
    excluded: list[Exclusion] = []
    index = 0
    for speaker in sorted(by_speaker):
        lines = _speaker_lines(source_name, index, by_speaker[speaker])
        index = lines[-1].index + 1
        for k, line in enumerate(lines):
            if line.seconds < MIN_LINE_SECONDS:
                excluded += [Exclusion(u.file.location, f"speaker {speaker!r} has only {line.seconds:.1f} s "
                                                        f"left for a line (< {MIN_LINE_SECONDS:.0f} s)")
                             for u in line.utterances]
                continue
            voice = line.utterances[0].file.voice or speaker
            plans.append(LinePlan(f"{slug(speaker)}-{k:03d}", line.index, speaker, voice, tuple(line.utterances),
                                  tuple(line.peaks), tuple(line.gaps)))
    return plans, excluded
