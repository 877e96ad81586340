"""Scores to sing: real vocal melodies from the music21 corpus, fitted to a voice, with syllables.

Melodies are the sung parts of Bach's chorales and Monteverdi's madrigals (books 3-5) in music21's
bundled corpus; files that declare their own <rights> are skipped. Not used, for their licences: the
Palestrina encodings ("rights to all derivative electronic formats reserved") and the Essen folk
songs (permission for non-commercial use only). An excerpt starts at a phrase of one part, at a drawn
tempo, transposed into the voice's range, long rests shortened and onsets jittered. Whole works are
split between "train" and "heldout" by a hash of their path.
Times are in seconds from the excerpt's start; pitches are MIDI note numbers.
"""
from __future__ import annotations

import functools
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from isovox.core.errors import ToolMissingError
from isovox.training.corpus.compose import ENGLISH_WORDS, Note, _syllables

# collection -> quarter-note tempo range in bpm (MusicXML files, .mxl)
COLLECTIONS: dict[str, tuple[float, float]] = {"bach": (60.0, 100.0), "monteverdi": (90.0, 150.0)}
VOCAL_PART = re.compile(r"(soprano|alto|tenor|bass|basso|canto|quinto|[satb]\.)( \d)?$", re.IGNORECASE)
HELDOUT_WORKS_PER_10 = 1  # one work in ten (by path hash) is kept for the held-out suite
MAX_REST_S = (0.25, 1.0)  # rests inside an excerpt are shortened to a drawn length in this range
DIVISIONS = 480  # MusicXML ticks per quarter note
MIN_REST_S = 0.06  # shorter gaps between sung notes are closed (Sinsy cannot render them)
KANA = tuple("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわがぎぐげごだでどばびぶべぼぱぴぷぺぽ"
             "ん")
ITALIAN_ONSETS = ("l", "m", "n", "r", "s", "t", "d", "p", "b", "v", "c", "f", "g", "", "ch", "gl", "tr", "st")
ITALIAN_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "e")
ENGLISH_MONOSYLLABLES = tuple(w for w in ENGLISH_WORDS
                              if len(re.findall("[aeiouy]+", w)) == 1
                              or (len(re.findall("[aeiouy]+", w)) == 2 and w.endswith("e")))
_STEPS = ("C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B")  # sharps written as step + alter
_SHARPS = (1, 3, 6, 8, 10)


@dataclass(frozen=True)
class Work:
    """One score of the corpus: its collection and its path relative to music21's corpus folder."""

    collection: str
    path: str


@dataclass(frozen=True)
class Excerpt:
    """A melody to sing: notes from t=0 (onset-jittered), the tempo it was read at, and its origin."""

    notes: tuple[Note, ...]
    tempo_bpm: float
    origin: str

    @property
    def duration_s(self) -> float:
        last = self.notes[-1]
        return last.start_s + last.dur_s


def corpus_root() -> Path:
    """music21's corpus folder; `ToolMissingError` with the fix when music21 is not installed."""
    try:
        from music21 import common
    except ModuleNotFoundError as exc:
        raise ToolMissingError("Python module music21 not found; the sung melodies come from its corpus: "
                               "pip install music21 (or pip install -e '.[data]')") from exc
    return Path(common.getCorpusFilePath())


def work_split(work: Work) -> str:
    """The split of `work`: "heldout" for one work in ten (a fixed hash of its path), else "train"."""
    return "heldout" if zlib.crc32(work.path.encode()) % 10 < HELDOUT_WORKS_PER_10 else "train"


def _declares_rights(path: Path) -> bool:
    """True when a compressed MusicXML file carries a <rights> statement (an edition's copyright)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("META-INF") or not name.endswith((".xml", ".musicxml")):
                continue
            data = archive.read(name)
            text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8", "replace")
            if "<rights>" in text:
                return True
    return False


@functools.lru_cache(maxsize=2)
def works(split: str) -> dict[str, tuple[Work, ...]]:
    """The works of each collection that belong to `split`, in a fixed order."""
    root = corpus_root()
    out: dict[str, tuple[Work, ...]] = {}
    for collection in COLLECTIONS:
        found = [Work(collection, path.relative_to(root).as_posix())
                 for path in sorted((root / collection).glob("*.mxl"))
                 if not path.stem.endswith("_old") and not _declares_rights(path)]  # _old: superseded copies
        out[collection] = tuple(w for w in found if work_split(w) == split)
    return out


@functools.lru_cache(maxsize=64)
def vocal_parts(work: Work) -> tuple[tuple[tuple[float, float, int | None], ...], ...]:
    """Each sung part of `work` as (onset, length) in quarter notes with a MIDI pitch, None for rests.

    Parts count by their names (Soprano ... Basso; the scores also hold continuo, strings, brass).
    Tied notes are merged (by hand: `stripTies` deep-copies the score, 0.7 s a part), chords sung by
    their top note.
    """
    from music21 import corpus

    score = corpus.parse(str(corpus_root() / work.path))
    out = []
    for part in score.parts:
        if not VOCAL_PART.match((part.partName or "").strip()):
            continue
        events: list[tuple[float, float, int | None]] = []
        tied = False  # the previous note opened a tie (some files never close theirs)
        for e in part.flatten().notesAndRests:
            if e.quarterLength <= 0:  # grace notes
                continue
            pitch = None if e.isRest else max(p.midi for p in e.pitches)
            if tied and events and events[-1][2] == pitch:
                onset, length, _ = events[-1]
                events[-1] = (onset, length + float(e.quarterLength), pitch)
            else:
                events.append((float(e.offset), float(e.quarterLength), pitch))
            tied = not e.isRest and e.tie is not None and e.tie.type in ("start", "continue")
        if any(pitch is not None for _onset, _length, pitch in events):
            out.append(tuple(events))
    return tuple(out)


def _fit_range(pitches: np.ndarray, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Transpose so the median sits near the middle of [low, high] (±2), then fold outliers by octaves."""
    centre = (low + high) / 2 + float(rng.integers(-2, 3))
    shifted = pitches + round(centre - float(np.median(pitches)))
    while (shifted < low).any():
        shifted = np.where(shifted < low, shifted + 12, shifted)
    while (shifted > high).any():
        shifted = np.where(shifted > high, shifted - 12, shifted)
    return shifted


def sung_excerpt(rng: np.random.Generator, split: str, pitch_range: tuple[int, int],
                 target_s: float) -> Excerpt:
    """About `target_s` seconds (fewer if the part ends) of one real melody, fitted to `pitch_range`."""
    catalogue = works(split)
    collections = [c for c in COLLECTIONS if catalogue[c]]
    for _attempt in range(50):
        collection = collections[int(rng.integers(len(collections)))]
        work = catalogue[collection][int(rng.integers(len(catalogue[collection])))]
        parts = vocal_parts(work)
        if parts:
            break
    else:  # pragma: no cover - the corpus always holds sung parts
        raise ToolMissingError("no sung part found in 50 music21 works: reinstall music21")
    index = int(rng.integers(len(parts)))
    events = parts[index]
    starts = [k for k, e in enumerate(events) if e[2] is not None and (k == 0 or events[k - 1][2] is None)]
    first = starts[int(rng.integers(len(starts)))]
    tempo = float(rng.uniform(*COLLECTIONS[collection]))
    beat_s = 60.0 / tempo
    max_rest_s = float(rng.uniform(*MAX_REST_S))
    legato = float(rng.uniform(0.85, 1.0))
    jitter_s = float(rng.uniform(0.0, 0.025))
    onsets, lengths, pitches = [], [], []
    t = 0.0
    for _onset_q, length_q, pitch in events[first:]:
        if t >= target_s:
            break
        if pitch is None:
            t += min(length_q * beat_s, max_rest_s)
            continue
        onsets.append(t)
        lengths.append(length_q * beat_s)
        pitches.append(pitch)
        t += length_q * beat_s
    starts_s = np.maximum(np.array(onsets) + rng.normal(0.0, jitter_s, len(onsets)), 0.0)
    starts_s = np.maximum.accumulate(starts_s)
    ends_s = np.array(onsets) + np.array(lengths) * legato
    ends_s = np.minimum(ends_s, np.append(starts_s[1:], np.inf))
    ends_s = np.maximum(ends_s, starts_s + 0.06)
    fitted = _fit_range(np.array(pitches), *pitch_range, rng)
    notes = tuple(Note(float(a), float(b - a), int(p), 90) for a, b, p in zip(starts_s, ends_s, fitted))
    origin = f"{work.path} part {index + 1}"
    return Excerpt(notes, tempo, origin)


def syllables(rng: np.random.Generator, n: int, language: str) -> list[str]:
    """`n` syllables to sing, one per note: kana ("ja"), Italian CV ("it"), English or pseudo-syllables."""
    if language == "ja":
        return [str(s) for s in rng.choice(KANA, n)]
    if language == "it":
        return [str(rng.choice(ITALIAN_ONSETS)) + str(rng.choice(ITALIAN_VOWELS)) for _ in range(n)]
    if language.startswith("en") and rng.random() < 0.7:
        return [str(w) for w in rng.choice(ENGLISH_MONOSYLLABLES, n)]
    return _syllables(rng, n, "xx")


def musicxml(excerpt: Excerpt, lyrics: list[str]) -> str:
    """A one-part 4/4 MusicXML score of `excerpt` at its tempo, for Sinsy.

    Onsets are kept to 1/480 of a quarter (the jitter survives); notes that cross a bar line are tied;
    one bar of rest opens and closes the score (Sinsy expects rests at both ends).
    """
    beat_s = 60.0 / excerpt.tempo_bpm
    bar = 4 * DIVISIONS
    min_rest = round(MIN_REST_S / beat_s * DIVISIONS)
    events: list[list] = [[None, bar, None]]  # [pitch or None, length, lyric]
    cursor = bar
    for note, lyric in zip(excerpt.notes, lyrics):
        on = bar + round(note.start_s / beat_s * DIVISIONS)
        off = bar + round((note.start_s + note.dur_s) / beat_s * DIVISIONS)
        if on - cursor >= min_rest:
            events.append([None, on - cursor, None])
        elif on > cursor:  # a gap too short to breathe in: the previous note holds on
            events[-1][1] += on - cursor
        on = max(on, cursor)
        if off > on:
            events.append([note.pitch, off - on, lyric])
            cursor = off
    end = (cursor // bar + 2) * bar
    events.append((None, end - cursor, None))
    measures: list[list[str]] = [[]]
    position = 0
    for pitch, length, lyric in events:
        first = True
        while length > 0:
            take = min(bar - position % bar, length)
            length -= take
            ties = ([] if first else ["stop"]) + (["start"] if length > 0 else []) if pitch is not None else []
            measures[-1].append(_note_xml(pitch, take, lyric if first else None, ties))
            first = False
            position += take
            if position % bar == 0:
                measures.append([])
    head = (f"<attributes><divisions>{DIVISIONS}</divisions><key><fifths>0</fifths></key><time><beats>4</beats>"
            f"<beat-type>4</beat-type></time></attributes><direction placement=\"above\"><sound "
            f"tempo=\"{excerpt.tempo_bpm:.2f}\"/></direction>")
    body = "".join(f'<measure number="{k + 1}">{head if k == 0 else ""}{"".join(m)}</measure>'
                   for k, m in enumerate(measures) if m)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<score-partwise version="3.0"><part-list>'
            '<score-part id="P1"><part-name>Voice</part-name></score-part></part-list>'
            f'<part id="P1">{body}</part></score-partwise>\n')


def _note_xml(pitch: int | None, duration: int, lyric: str | None, ties: list[str]) -> str:
    if pitch is None:
        return f"<note><rest/><duration>{duration}</duration></note>"
    alter = "<alter>1</alter>" if pitch % 12 in _SHARPS else ""
    tie = "".join(f'<tie type="{t}"/>' for t in ties)
    tied = "".join(f'<tied type="{t}"/>' for t in ties)
    notations = f"<notations>{tied}</notations>" if ties else ""
    text = f"<lyric><text>{lyric}</text></lyric>" if lyric else ""
    return (f"<note><pitch><step>{_STEPS[pitch % 12]}</step>{alter}<octave>{pitch // 12 - 1}</octave></pitch>"
            f"<duration>{duration}</duration>{tie}{notations}{text}</note>")
