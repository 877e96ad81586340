"""Rendered vocal lines (singing and synthetic speech) written as pools: OUT/vocals/<source>/.

Each source is one engine (and its voices): a line is 20-60 s of one voice, built from chunks (sung
melody excerpts or a few spoken sentences) with short breaths between them. Every line is a pure
function of (seed, source, line index); finished lines are skipped on a re-run, so a stopped run
resumes. Layout, per source: <item>.flac (44.1 kHz mono, 16-bit FLAC) and source.json, written last.

    isovox prepare-voices OUT --split train --minutes-per-source 30 --jobs 2
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from isovox.core.atomic_files import atomic_path, write_json
from isovox.core.errors import AudioDataError, AudioFileError
from isovox.training.corpus import vocal_engines as engines
from isovox.training.corpus.compose import ESPEAK_LANGUAGES, FEMALE_VARIANTS, MALE_VARIANTS, _sentence
from isovox.training.corpus.conditioning import peak_normalise
from isovox.training.corpus.licences import refuse_for_training
from isovox.training.corpus.pitch import add_vibrato
from isovox.training.corpus.singing import Excerpt, corpus_root, sung_excerpt, syllables

log = logging.getLogger(__name__)

SAMPLE_RATE = engines.SAMPLE_RATE
SPLITS = ("train", "heldout")
LINE_TARGET_S = (22.0, 50.0)  # drawn per line; a line ends between its target and MAX_LINE_S
MAX_LINE_S = 60.0
MIN_CHUNK_S = 8.0
MAX_CHUNK_FAILURES = 8  # per line
BREATH_S = (0.2, 0.8)  # silence between chunks
PEAK_DBFS = -1.0  # lines are peak-normalised; the mixer sets levels
# pitch ranges (MIDI) the melodies are transposed into
SINSY_RANGE = (62, 74)  # D4-D5: the HMM diverges or drifts outside
FESTIVAL_EN_RANGE = (43, 59)  # kal and ked: the diphones break above ~250 Hz
FESTIVAL_IT_RANGE = (52, 69)  # lp tops out near 466 Hz
ESPEAK_MALE_RANGE, ESPEAK_FEMALE_RANGE = (45, 64), (57, 76)
FESTIVAL_DOC = "/usr/share/doc"
MUSIC21_ATTRIBUTION = ("melodies: sung parts of J. S. Bach's chorales and C. Monteverdi's madrigals (public "
                       "domain works), encodings from the music21 corpus (M. S. Cuthbert et al.; distributed by "
                       "permission of their encoders, see music21/corpus/license.txt; files with a <rights> "
                       "statement skipped)")

Chunk = Callable[["VocalSource", str, np.random.Generator, float, str], np.ndarray]


@dataclass(frozen=True)
class VocalSource:
    """One pool source: what source.json says about it, its voices and how it renders a chunk.

    `pick_voice` draws a line's voice; `speaker` maps it to the speaker counted in "voices" (espeak
    voices are language+variant: the variant is the speaker). `chunk(source, voice, rng, seconds,
    workdir)` returns about `seconds` of 44.1 kHz mono audio; `check()` raises `ToolMissingError`.
    """

    name: str
    split: str
    category: str
    package: str
    licence: str
    licence_file: str
    attribution: str
    bandwidth_hz: int
    notes: str
    pick_voice: Callable[[np.random.Generator], str]
    check: Callable[[], None]
    chunk: Chunk
    speaker: Callable[[str], str] = str


@dataclass(frozen=True)
class LinePlan:
    """One line to render: its file name, target length in seconds and voice."""

    source: str
    index: int
    item: str
    target_s: float
    voice: str


# ---- chunks: one sung excerpt or a few sentences -------------------------------------------------

def _sung(render: Callable[[str, Excerpt, list[str], str], np.ndarray], language: Callable[[str], str],
          pitch_range: Callable[[str], tuple[int, int]], vibrato_max_semitones: float) -> Chunk:
    """A chunk renderer that sings a real melody excerpt with `render(voice, excerpt, syllables, workdir)`.

    `language` and `pitch_range` map the line's voice to its syllables' language and its MIDI range."""
    def chunk(source: VocalSource, voice: str, rng: np.random.Generator, seconds: float, workdir: str) -> np.ndarray:
        excerpt = sung_excerpt(rng, source.split, pitch_range(voice), seconds)
        audio = render(voice, excerpt, syllables(rng, len(excerpt.notes), language(voice)), workdir)
        depth = float(rng.uniform(0.0, vibrato_max_semitones)) if rng.random() < 0.8 else 0.0
        return add_vibrato(audio, SAMPLE_RATE, list(excerpt.notes), rng, depth, float(rng.uniform(0.0, 0.12)))
    return chunk


def speech_text(rng: np.random.Generator, language: str, n_words: int) -> str:
    """`n_words` words of `language` as sentences of 3-12 words, some asked, some exclaimed."""
    words = _sentence(rng, language, n_words)
    sentences, k = [], 0
    while k < len(words):
        length = int(rng.integers(3, 13))
        sentence = words[k:k + length]
        k += length
        if len(sentence) > 5 and rng.random() < 0.3:
            sentence[int(rng.integers(2, len(sentence) - 2))] += ","
        end = str(rng.choice([".", ".", ".", "?", "!"]))
        sentences.append(" ".join(sentence)[:1].upper() + " ".join(sentence)[1:] + end)
    return " ".join(sentences)


def _words_for(seconds: float) -> int:
    return max(6, round(seconds * 2.4))  # random words are spoken at about 2.4 per second


def _spoken(speak: Callable[[str, str, float, float | None, str], np.ndarray], language: Callable[[str], str],
            tempo: Callable[[np.random.Generator], float], pitch: Callable[[np.random.Generator], float | None]) -> Chunk:
    """A chunk renderer that speaks random words with `speak(voice, text, tempo, pitch, workdir)`.

    `language` maps the line's voice to its words' language; `tempo` and `pitch` draw the engine's own
    units (espeak: words per minute and 0-99; festival and flite: duration stretch and mean f0 in Hz,
    None keeping the voice's own intonation)."""
    def chunk(source: VocalSource, voice: str, rng: np.random.Generator, seconds: float, workdir: str) -> np.ndarray:
        text = speech_text(rng, language(voice), _words_for(seconds))
        return speak(voice, text, tempo(rng), pitch(rng), workdir)
    return chunk


def _uniform(low: float, high: float) -> Callable[[np.random.Generator], float]:
    return lambda rng: float(rng.uniform(low, high))


def _integer(low: int, high_exclusive: int) -> Callable[[np.random.Generator], int]:
    return lambda rng: int(rng.integers(low, high_exclusive))


# festival voices of other languages, by language: text in that language (pseudo-words where the
# built-in word lists have none), each voice with its own intonation model
FESTIVAL_WORLD_VOICES = {"czech_dita": "cs", "czech_krb": "cs", "czech_machac": "cs", "czech_ph": "cs",
                         "suo_fi_lj_diphone": "fi", "hy_fi_mv_diphone": "fi", "upc_ca_ona_hts": "ca"}


# ---- voices --------------------------------------------------------------------------------------

def _espeak_voice(rng: np.random.Generator) -> str:
    """language+variant, the variant male or female with equal chance (no whisper: it cannot sing)."""
    variants = FEMALE_VARIANTS if rng.random() < 0.5 else MALE_VARIANTS
    return f"{rng.choice(ESPEAK_LANGUAGES)}+{rng.choice(variants)}"


def _espeak_speaker(voice: str) -> str:
    return voice.split("+")[1]


def _espeak_language(voice: str) -> str:
    return voice.split("+")[0]


def _espeak_range(voice: str) -> tuple[int, int]:
    return ESPEAK_FEMALE_RANGE if _espeak_speaker(voice) in FEMALE_VARIANTS else ESPEAK_MALE_RANGE


def _one_of(*voices: str) -> Callable[[np.random.Generator], str]:
    return lambda rng: str(voices[int(rng.integers(len(voices)))])


def _checks(*checks: Callable[[], object]) -> Callable[[], None]:
    def check() -> None:
        for c in checks:
            c()
    return check


def _sinsy_licence_file() -> str:
    import importlib.util

    spec = importlib.util.find_spec("pysinsy")
    folder = Path(spec.origin).parent if spec and spec.origin else Path("pysinsy")
    return str(folder / "htsvoice" / "COPYING")


def _festival_licence(voice: str) -> str:
    return f"{FESTIVAL_DOC}/{engines.FESTIVAL_VOICES[voice][1]}/copyright"


CSTR_LICENCE = "CSTR festival voice licence (permissive, MIT-like)"
SOURCES: tuple[VocalSource, ...] = (
    VocalSource(
        "sinsy-nitech-f001", "train", "sung", "pysinsy (PyPI) with its bundled voice; music21 (PyPI)",
        "CC-BY-3.0", _sinsy_licence_file(),
        "Singing voice: NIT SONG070 F001 (c) 2004-2015 Nagoya Institute of Technology, CC BY 3.0; synthesiser "
        "Sinsy (c) 2009-2015 Nagoya Institute of Technology (BSD-3-Clause), via pysinsy (MIT); "
        + MUSIC21_ATTRIBUTION, 22050,
        "Japanese female HMM singing voice, 48 kHz; one kana per note; light vibrato and drift added by "
        "resampling; one voice (the HMM's own), variety from melodies, keys, tempi and onset jitter.",
        _one_of("nitech_jp_song070_f001"), _checks(engines.sinsy, corpus_root),
        _sung(lambda voice, ex, syl, wd: engines.sinsy_sing(ex, syl, wd), lambda v: "ja", lambda v: SINSY_RANGE, 0.5)),
    VocalSource(
        "festival-singing", "train", "sung", "festival, festvox-kallpc16k, festvox-kdlpc16k (Debian); music21",
        CSTR_LICENCE, _festival_licence("kal_diphone"),
        "festival (c) CSTR, University of Edinburgh; voices kal_diphone and ked_diphone (c) CSTR/CMU (same "
        "licence, /usr/share/doc/festvox-kdlpc16k/copyright); " + MUSIC21_ATTRIBUTION, 8000,
        "festival singing mode, American English male diphone voices (16 kHz), melodies sung at absolute "
        "pitch in G2-B3, English monosyllables and pseudo-syllables; vibrato and drift added by resampling.",
        _one_of("kal_diphone", "ked_diphone"),
        _checks(lambda: engines.require_festival_voice("kal_diphone"),
                lambda: engines.require_festival_voice("ked_diphone"), corpus_root),
        _sung(engines.festival_sing, lambda v: "en", lambda v: FESTIVAL_EN_RANGE, 0.6)),
    VocalSource(
        "espeak-singing", "train", "sung", "espeak-ng, espeak-ng-data (Debian); music21",
        "GPL-3.0-or-later", f"{FESTIVAL_DOC}/espeak-ng-data/copyright",
        "espeak-ng (c) Jonathan Duddington, Reece H. Dunn and contributors; " + MUSIC21_ATTRIBUTION, 11025,
        "formant synthesis, 22.05 kHz; each syllable spoken monotone then moved onto its note and held by "
        "rubberband (formants kept); 20 languages, variants counted as voices; vibrato and drift added. "
        "GPL covers the program, not the audio it renders.",
        _espeak_voice, _checks(lambda: engines.program("espeak-ng"), corpus_root),
        _sung(engines.espeak_sing, _espeak_language, _espeak_range, 0.6), _espeak_speaker),
    VocalSource(
        "espeak-speech", "train", "synthetic-speech", "espeak-ng, espeak-ng-data (Debian)",
        "GPL-3.0-or-later", f"{FESTIVAL_DOC}/espeak-ng-data/copyright",
        "espeak-ng (c) Jonathan Duddington, Reece H. Dunn and contributors", 11025,
        "formant synthesis, 22.05 kHz; random words of 20 languages at 130-200 wpm; variants counted as voices. "
        "GPL covers the program, not the audio it renders.",
        _espeak_voice, _checks(lambda: engines.program("espeak-ng")),
        _spoken(engines.espeak_speak, _espeak_language, _integer(130, 200), _integer(25, 76)), _espeak_speaker),
    VocalSource(
        "festival-speech", "train", "synthetic-speech", "festival, festvox-kallpc16k, festvox-kdlpc16k (Debian)",
        CSTR_LICENCE, _festival_licence("kal_diphone"),
        "festival (c) CSTR, University of Edinburgh; voices kal_diphone and ked_diphone (c) CSTR/CMU (same "
        "licence, /usr/share/doc/festvox-kdlpc16k/copyright)", 8000,
        "American English male diphone voices (16 kHz), random English words, tempo and intonation varied.",
        _one_of("kal_diphone", "ked_diphone"),
        _checks(lambda: engines.require_festival_voice("kal_diphone"),
                lambda: engines.require_festival_voice("ked_diphone")),
        _spoken(engines.festival_speak, lambda v: "en", _uniform(0.95, 1.25), _uniform(90, 135))),
    VocalSource(
        "festival-speech-world", "train", "synthetic-speech",
        "festival, festvox-czech-{dita,krb,machac,ph}, festvox-suopuhe-{lj,mv}, festvox-ca-ona-hts (Debian)",
        "GPL-3.0-or-later (czech dita, krb, machac), GPL-2.0-or-later (czech ph), LGPL-2.0-or-later (suopuhe "
        "lj, mv), LGPL-2.1-or-later (ca ona)", _festival_licence("czech_dita"),
        "festival (c) CSTR, University of Edinburgh; Czech voices (c) 2005-2011 Brailcom, o.p.s.; Finnish "
        "voices (c) 2000-2003 University of Helsinki and University of Joensuu (Suopuhe); Catalan voice ona "
        "(c) Universitat Politecnica de Catalunya (festcat); licences per voice in /usr/share/doc/<package>/"
        "copyright", 22050,
        "seven voices of recorded speakers in three languages the English festival voices lack: Czech diphone "
        "voices at 32 and 44.1 kHz, Finnish diphone voices at 22.05 kHz, a Catalan HTS voice at 16 kHz; "
        "random words (pseudo-words for Czech, Finnish and Catalan), tempo varied, each voice's own intonation.",
        _one_of(*FESTIVAL_WORLD_VOICES),
        _checks(*(functools.partial(engines.require_festival_voice, v) for v in FESTIVAL_WORLD_VOICES)),
        _spoken(engines.festival_speak, FESTIVAL_WORLD_VOICES.__getitem__, _uniform(0.9, 1.2), lambda rng: None)),
    VocalSource(
        "flite-speech", "heldout", "synthetic-speech", "flite (Debian), built-in voices awb and rms",
        "CMU flite licence (permissive, MIT-like)", f"{FESTIVAL_DOC}/flite/copyright",
        "flite (c) 1999-2016 Carnegie Mellon University; CMU ARCTIC voices awb and rms", 8000,
        "held out: voices never trained on (awb, rms; never slt, which is reserved, nor kal); 16 kHz; random "
        "English words, tempo varied (awb also f0; rms ignores it).",
        _one_of("awb", "rms"),
        _checks(lambda: engines.require_flite_voice("awb"), lambda: engines.require_flite_voice("rms")),
        _spoken(engines.flite_speak, lambda v: "en", _uniform(0.9, 1.2), _uniform(90, 140))),
    VocalSource(
        "festival-singing-italian", "heldout", "sung", "festival, festvox-italp16k (Debian); music21",
        "GPL-2.0-or-later", _festival_licence("lp_diphone"),
        "festival (c) CSTR; Italian voice lp_diphone (c) 2008 IFM Development Team (GPL-2.0+); "
        + MUSIC21_ATTRIBUTION, 8000,
        "held out: a whole voice never trained on (Italian female diphone voice lp, 16 kHz) singing held-out "
        "melodies (one work in ten) in E3-A4 on Italian CV syllables; vibrato and drift added.",
        _one_of("lp_diphone"), _checks(lambda: engines.require_festival_voice("lp_diphone"), corpus_root),
        _sung(engines.festival_sing, lambda v: "it", lambda v: FESTIVAL_IT_RANGE, 0.6)),
)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}


# ---- planning and rendering ----------------------------------------------------------------------

def _line_start(source: VocalSource, seed: int, index: int) -> tuple[LinePlan, np.random.Generator]:
    """The plan of line `index` and its generator, positioned after the plan's draws."""
    rng = np.random.default_rng([seed, zlib.crc32(source.name.encode()), index])
    target_s = round(float(rng.uniform(*LINE_TARGET_S)), 2)
    voice = source.pick_voice(rng)
    return LinePlan(source.name, index, f"{source.name}-s{seed}-{index:04d}", target_s, voice), rng


def plan_source(source: VocalSource, seed: int, minutes: float) -> list[LinePlan]:
    """Lines until their target lengths reach `minutes` (independent of jobs and of what exists)."""
    plans: list[LinePlan] = []
    while sum(p.target_s for p in plans) < minutes * 60.0:
        plans.append(_line_start(source, seed, len(plans))[0])
    return plans


def _cut_at_pause(audio: np.ndarray, limit_s: float) -> np.ndarray:
    """Cut at the quietest 50 ms within the 8 s before `limit_s`, with a 20 ms fade."""
    hop = SAMPLE_RATE // 20
    first, last = round((limit_s - 8.0) * SAMPLE_RATE) // hop, round(limit_s * SAMPLE_RATE) // hop
    frames = audio[first * hop: last * hop].reshape(-1, hop)
    end = (first + int(np.argmin(np.mean(frames ** 2, axis=1)))) * hop + hop // 2
    out = audio[:end].copy()
    fade = SAMPLE_RATE // 50
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    return out


def render_line(source: VocalSource, seed: int, index: int) -> np.ndarray:
    """Render line `index` of `source`: chunks with breaths until its target length, at most 60 s."""
    plan, rng = _line_start(source, seed, index)
    pieces: list[np.ndarray] = []
    total, failures = 0, []
    with tempfile.TemporaryDirectory(prefix="isovox-voices-") as workdir:
        while total < plan.target_s * SAMPLE_RATE:
            seconds = max(plan.target_s - total / SAMPLE_RATE, MIN_CHUNK_S)
            try:  # an engine may fail on one excerpt (Sinsy diverging): draw another, up to a point
                chunk = engines.trim_silence(source.chunk(source, plan.voice, rng, seconds, workdir), SAMPLE_RATE,
                                             45.0)
                if chunk.size < SAMPLE_RATE // 2:
                    raise AudioFileError("the chunk came out silent")
            except AudioFileError as exc:
                failures.append(str(exc))
                log.info("%s line %d: %s; drawing another chunk", source.name, index, exc)
                if len(failures) >= MAX_CHUNK_FAILURES:
                    raise AudioFileError(f"{source.name} line {index} voice {plan.voice}: {len(failures)} chunks "
                                         f"failed, the last: {failures[-1]}") from exc
                continue
            if pieces:
                pieces.append(np.zeros(round(float(rng.uniform(*BREATH_S)) * SAMPLE_RATE), np.float32))
            pieces.append(chunk)
            total = sum(p.size for p in pieces)
    audio = np.concatenate(pieces).astype(np.float32)
    if audio.size > (MAX_LINE_S - 0.5) * SAMPLE_RATE:
        audio = _cut_at_pause(audio, MAX_LINE_S - 0.5)
    return peak_normalise(audio, PEAK_DBFS)


def _write_flac(path: Path, audio: np.ndarray) -> None:
    """Write 16-bit FLAC atomically (a hidden temporary beside `path`, then a rename)."""
    with atomic_path(path) as tmp:
        try:
            sf.write(tmp, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise AudioFileError(f"cannot write {tmp}: {exc}; check free disk space and permissions") from exc


def _cpu_seconds() -> float:
    """CPU time of this process and its finished engine subprocesses (a fair speed on a busy machine)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _render_job(job: tuple[str, str, int, int]) -> tuple[str, float, float, float]:
    """Worker: render and write one line; returns (source name, audio, wall and CPU seconds)."""
    folder, name, seed, index = job
    source = SOURCES_BY_NAME[name]
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    audio = render_line(source, seed, index)
    plan, _rng = _line_start(source, seed, index)
    _write_flac(Path(folder) / f"{plan.item}.flac", audio)
    return name, audio.size / SAMPLE_RATE, time.perf_counter() - start, _cpu_seconds() - cpu_start


def _tidy(folder: Path, source: VocalSource, plans: list[LinePlan]) -> None:
    """Remove temporary files of a stopped run and this source's lines outside the plan (other seed, more minutes)."""
    keep = {f"{p.item}.flac" for p in plans}
    for path in folder.iterdir():
        stale_line = path.name.startswith(f"{source.name}-s") and path.suffix == ".flac" and path.name not in keep
        if stale_line or (path.name.startswith(".") and path.name.endswith(".tmp")):
            path.unlink()


def _summary(folder: Path, source: VocalSource, plans: list[LinePlan]) -> dict:
    seconds = sum(sf.info(str(folder / f"{p.item}.flac")).duration for p in plans)
    return {"name": source.name, "role": "vocals", "split": source.split, "category": source.category,
            "package": source.package, "licence": source.licence, "licence_file": source.licence_file,
            "attribution": source.attribution, "minutes": round(seconds / 60.0, 2), "items": len(plans),
            "voices": len({source.speaker(p.voice) for p in plans}), "bandwidth_hz": source.bandwidth_hz,
            "excluded": [], "notes": source.notes}


def render_voices(out_root: Path, split: str, minutes_per_source: float, jobs: int, seed: int, *,
                  sources: Sequence[str] | None = None, progress: bool = True) -> list[dict]:
    """Render every source of `split` (or only `sources`) into out_root/vocals/<source>/; returns summaries.

    About `minutes_per_source` minutes each; lines already on disk are kept (resumable). source.json is
    written after a source's last line. Progress is shown in seconds of audio.
    """
    from tqdm import tqdm

    if split not in SPLITS or not minutes_per_source > 0 or jobs < 1:
        raise AudioDataError(f"split {split!r}, minutes per source {minutes_per_source}, jobs {jobs}: expected "
                             f"a split of {SPLITS}, minutes > 0 and jobs >= 1; fix the arguments")
    unknown = sorted(set(sources or ()) - {s.name for s in SOURCES if s.split == split})
    if unknown:
        raise AudioDataError(f"unknown {split} source(s) {unknown}: expected some of "
                             f"{[s.name for s in SOURCES if s.split == split]}")
    chosen = [s for s in SOURCES if s.split == split and (sources is None or s.name in sources)]
    for source in chosen:
        if source.split == "train":
            refuse_for_training(source.name, source.licence)
        source.check()
    plans = {s.name: plan_source(s, seed, minutes_per_source) for s in chosen}
    folders = {s.name: Path(out_root) / "vocals" / s.name for s in chosen}
    todo: list[tuple[tuple[str, str, int, int], float]] = []
    for source in chosen:
        folders[source.name].mkdir(parents=True, exist_ok=True)
        _tidy(folders[source.name], source, plans[source.name])
        todo += [((str(folders[source.name]), source.name, seed, p.index), p.target_s)
                 for p in plans[source.name] if not (folders[source.name] / f"{p.item}.flac").exists()]
    spent = {s.name: np.zeros(3) for s in chosen}  # audio, wall and CPU seconds
    with tqdm(total=round(sum(t for _job, t in todo)), unit="s", desc="vocal lines (audio seconds)",
              disable=not progress) as bar:
        def done(result: tuple[str, float, float, float], target_s: float) -> None:
            spent[result[0]] += result[1:]
            bar.update(round(target_s))

        if jobs == 1:
            for job, target_s in todo:
                done(_render_job(job), target_s)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_render_job, job): target_s for job, target_s in todo}
                for future in as_completed(futures):
                    done(future.result(), futures[future])
    summaries = []
    for source in chosen:
        summary = _summary(folders[source.name], source, plans[source.name])
        write_json(folders[source.name] / "source.json", summary)
        summaries.append(summary)
        audio_s, wall_s, cpu_s = spent[source.name]
        if cpu_s > 0:
            log.info("%s: rendered %.1f min of audio in %.0f s of worker wall time, %.0f s CPU (%.1fx real "
                     "time per core)", source.name, audio_s / 60, wall_s, cpu_s, audio_s / cpu_s)
    return summaries


def main(argv: list[str] | None = None) -> int:
    """`python -m isovox.training.corpus.voices ARGS` = `isovox prepare-voices ARGS` (one error handler)."""
    from isovox.host.cli import main as isovox_main

    return isovox_main(["prepare-voices", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
