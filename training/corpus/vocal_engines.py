"""Voice engines for the vocal pools: Sinsy (pysinsy), festival singing and speech, espeak-ng, flite.

Each function renders one chunk of a line and returns mono float32 at 44.1 kHz (resampled with soxr);
sung chunks keep the excerpt's timing (t=0 is the excerpt's start). Engines are located on first use:
a missing one raises `ToolMissingError` naming the package to install.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import soxr
from isovox.core.errors import AudioFileError, ToolMissingError
from isovox.training.corpus.conditioning import active_span
from isovox.training.corpus.pitch import median_f0_hz
from isovox.training.corpus.singing import Excerpt, musicxml
from isovox.training.corpus.synth import (
    _read,
    _run,
    espeak_pitch_range,
    festival_song_xml,
    festival_wave,
    transpose,
)

SAMPLE_RATE = 44100
FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")
# festival voice -> (language folder, Debian package)
FESTIVAL_VOICES = {"kal_diphone": ("english", "festvox-kallpc16k"), "ked_diphone": ("english", "festvox-kdlpc16k"),
                   "lp_diphone": ("italian", "festvox-italp16k"),
                   "czech_dita": ("czech", "festvox-czech-dita"), "czech_krb": ("czech", "festvox-czech-krb"),
                   "czech_machac": ("czech", "festvox-czech-machac"), "czech_ph": ("czech", "festvox-czech-ph"),
                   "suo_fi_lj_diphone": ("finnish", "festvox-suopuhe-lj"),
                   "hy_fi_mv_diphone": ("finnish", "festvox-suopuhe-mv"),
                   "upc_ca_ona_hts": ("catalan", "festvox-ca-ona-hts")}
FLITE_VOICES = ("awb", "rms")  # never slt (reserved) nor kal (festival's kal speaker, a training voice)
SINSY_VOICE = "htsvoice/nitech_jp_song070_f001.htsvoice"
_APT = {"espeak-ng": "espeak-ng", "text2wave": "festival", "flite": "flite"}


def program(name: str) -> str:
    """Absolute path of an engine's program, or `ToolMissingError` with the apt package to install."""
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"`{name}` not found on PATH; the vocal pools need it: apt-get install {_APT[name]}")
    return path


def require_festival_voice(voice: str) -> str:
    """Path of text2wave once festival and `voice` are installed; else `ToolMissingError` with the fix."""
    text2wave = program("text2wave")
    language, package = FESTIVAL_VOICES[voice]
    folder = FESTIVAL_VOICE_DIR / language / voice
    if not folder.is_dir():
        raise ToolMissingError(f"festival voice {voice} ({folder}) not found: apt-get install {package}")
    return text2wave


@functools.cache
def require_flite_voice(voice: str) -> str:
    """Path of flite once it lists `voice` (an unknown -voice silently falls back to another voice)."""
    if voice not in FLITE_VOICES:
        raise ValueError(f"flite voice {voice!r} is not one of {FLITE_VOICES}")
    flite = program("flite")
    listed = subprocess.run([flite, "-lv"], capture_output=True, text=True, check=False).stdout.split()
    if voice not in listed:
        raise ToolMissingError(f"flite lists no voice {voice} ({' '.join(listed)}): apt-get install flite")
    return flite


@functools.lru_cache(maxsize=1)
def sinsy() -> object:
    """A loaded Sinsy synthesiser (Japanese, NIT SONG070 F001 voice), one per process.

    pysinsy 0.0.5's package __init__ imports pkg_resources, which setuptools >= 81 no longer ships, so
    its compiled extension is loaded directly from the installed package folder.
    """
    spec = importlib.util.find_spec("pysinsy")
    if spec is None or spec.origin is None:
        raise ToolMissingError("Python module pysinsy not found; the sung pool needs it: pip install pysinsy "
                               "(or pip install -e '.[data]'; it builds from source, needs cmake and a C++ compiler)")
    folder = Path(spec.origin).parent
    extension = next((p for p in sorted(folder.glob("sinsy.*"))
                      if any(p.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)), None)
    if extension is None:
        raise ToolMissingError(f"pysinsy at {folder} has no compiled sinsy extension: pip install --force-reinstall "
                               "pysinsy")
    module_spec = importlib.util.spec_from_file_location("pysinsy.sinsy", extension)
    module: ModuleType = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    engine = module.Sinsy()
    if not (engine.setLanguages("j", str(folder / "_dic")) and engine.loadVoices(str(folder / SINSY_VOICE))):
        raise ToolMissingError(f"pysinsy at {folder} lacks its dictionary or voice: pip install --force-reinstall "
                               "pysinsy")
    return engine


def to_output_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample mono audio to 44.1 kHz with soxr (high quality)."""
    if sample_rate == SAMPLE_RATE:
        return audio.astype(np.float32)
    return soxr.resample(audio.astype(np.float32), sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)


def _hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


@contextlib.contextmanager
def _stderr_to(path: str) -> Iterator[None]:
    """Send the process's C-level stderr to `path` (Sinsy prints a warning per short note)."""
    saved = os.dup(2)
    with open(path, "w") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def sinsy_sing(excerpt: Excerpt, lyrics: list[str], workdir: str) -> np.ndarray:
    """Sing `excerpt` with Sinsy (one kana per note). The score's opening bar of rest is cut off.

    Sinsy's f0 follows the score loosely (median error ~0.6 semitone in D4-D5, wider leaps exaggerated);
    `AudioFileError` when its synthesis diverges, so the caller can draw another excerpt.
    """
    engine = sinsy()
    path, log = os.path.join(workdir, "sinsy.musicxml"), os.path.join(workdir, "sinsy.log")
    with open(path, "w", encoding="utf-8") as f:
        f.write(musicxml(excerpt, lyrics))
    with _stderr_to(log):
        loaded = engine.loadScoreFromMusicXML(path)
        audio, sr = engine.synthesize() if loaded else (np.zeros(0), 0)
        engine.clearScore()
    if not loaded or len(audio) == 0:
        with open(log, encoding="utf-8", errors="replace") as f:
            raise AudioFileError(f"Sinsy could not sing {excerpt.origin}: {f.read()[-300:]}")
    lead_in = round(4 * 60.0 / excerpt.tempo_bpm * sr)  # one 4/4 bar
    audio = np.asarray(audio, dtype=np.float64)[lead_in: lead_in + round((excerpt.duration_s + 0.5) * sr)] / 32768.0
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:  # the HMM's filter diverges on some notes (mostly outside D4-D5): bursts of 10-1000x
        raise AudioFileError(f"Sinsy became unstable on {excerpt.origin} (peak {peak:.1f} x full scale)")
    return to_output_rate(audio, sr)


def festival_sing(voice: str, excerpt: Excerpt, words: list[str], workdir: str) -> np.ndarray:
    """Sing `excerpt` with festival's singing mode in `voice` (absolute pitches, one word per note)."""
    text2wave = require_festival_voice(voice)
    audio, sr = festival_wave(text2wave, workdir, festival_song_xml(list(excerpt.notes), words), "singing", voice)
    lead = np.zeros(round(excerpt.notes[0].start_s * sr), dtype=np.float32)  # festival starts at the first note
    return to_output_rate(np.concatenate([lead, audio]), sr)


def _espeak(voice: str, ssml: str, workdir: str) -> tuple[np.ndarray, int]:
    path = os.path.join(workdir, "espeak.wav")
    _run([program("espeak-ng"), "-m", "-v", voice, "-w", path, ssml], "espeak-ng")
    audio, sr = _read(path, "espeak-ng")
    return audio[0], sr


def trim_silence(audio: np.ndarray, sample_rate: int, top_db: float) -> np.ndarray:
    """`audio` without its leading and trailing frames quieter than `top_db` below the loudest one."""
    span = active_span(audio, sample_rate, top_db)
    return audio[span[0]: span[1]] if span else audio[:0]


def espeak_sing(voice: str, excerpt: Excerpt, words: list[str], workdir: str) -> np.ndarray:
    """Sing `excerpt` with espeak-ng, one syllable per note, each held for its note at its pitch.

    Each syllable is spoken monotone at the nearest SSML pitch (slower for long notes), its f0 measured,
    then rubberband moves it onto the note's pitch and stretches its vowel over the note (formants kept).
    """
    low, high = espeak_pitch_range(program("espeak-ng"), voice)
    span = np.log2(high / low)
    out: np.ndarray | None = None
    sr = 0
    for note, word in zip(excerpt.notes, words):
        target_hz = _hz(note.pitch)
        level = int(np.clip(round(99 * np.log2(target_hz / low) / span), 0, 99))
        rate = int(np.clip(100 * 0.35 / max(note.dur_s, 0.05), 40, 180))
        audio, sr = _espeak(voice, f'<speak><prosody pitch="{level}" range="0" rate="{rate}%">{word}</prosody>'
                                   "</speak>", workdir)
        syllable = trim_silence(audio, sr, 40.0)
        if syllable.size < sr // 50:
            continue
        measured_hz = median_f0_hz(syllable, sr, 50.0, 1000.0)
        shift = float(np.clip(12 * np.log2(target_hz / measured_hz), -12, 12)) if np.isfinite(measured_hz) else 0.0
        length = round(note.dur_s * sr)
        sung = transpose(syllable, sr, shift, float(np.clip(syllable.size / length, 0.1, 4.0)))[:length]
        fade = min(round(0.01 * sr), sung.size)
        sung[sung.size - fade:] *= np.linspace(1.0, 0.0, fade)
        if out is None:
            out = np.zeros(round((excerpt.duration_s + 0.5) * sr), dtype=np.float32)
        start = round(note.start_s * sr)
        out[start: start + sung.size] += sung[: out.size - start]
    if out is None:
        raise AudioFileError(f"espeak-ng voice {voice} sang nothing audible for {excerpt.origin}")
    return to_output_rate(out, sr)


def espeak_speak(voice: str, text: str, speed_wpm: int, pitch: int, workdir: str) -> np.ndarray:
    """Speak `text` with espeak-ng `voice` at `speed_wpm` words per minute and base pitch 0..99."""
    path = os.path.join(workdir, "speak.wav")
    _run([program("espeak-ng"), "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-w", path, text],
         "espeak-ng")
    audio, sr = _read(path, "espeak-ng")
    return to_output_rate(audio[0], sr)


def festival_speak(voice: str, text: str, duration_stretch: float, f0_mean_hz: float | None,
                   workdir: str) -> np.ndarray:
    """Speak `text` with festival `voice`, slower by `duration_stretch`, intonation centred on `f0_mean_hz`
    (None: the voice's own intonation model, for voices that do not use festival's linear-regression one)."""
    text2wave = require_festival_voice(voice)
    intonation = "" if f0_mean_hz is None else (
        f" (set! int_lr_params '((target_f0_mean {f0_mean_hz:.1f}) (target_f0_std {0.14 * f0_mean_hz:.1f}) "
        "(model_f0_mean 170) (model_f0_std 34)))")
    scheme = f"(begin (Parameter.set 'Duration_Stretch {duration_stretch:.3f}){intonation})"
    audio, sr = festival_wave(text2wave, workdir, text, None, voice, scheme)
    return to_output_rate(audio, sr)


def flite_speak(voice: str, text: str, duration_stretch: float, f0_mean_hz: float, workdir: str) -> np.ndarray:
    """Speak `text` with flite `voice` (awb or rms), slower by `duration_stretch`, f0 centred on `f0_mean_hz`."""
    flite = require_flite_voice(voice)
    src, path = os.path.join(workdir, "flite.txt"), os.path.join(workdir, "flite.wav")
    with open(src, "w", encoding="utf-8") as f:
        f.write(text)
    _run([flite, "-voice", voice, "--setf", f"duration_stretch={duration_stretch:.3f}",
          "--setf", f"int_f0_target_mean={f0_mean_hz:.1f}", "-f", src, "-o", path], "flite")
    audio, sr = _read(path, "flite")
    return to_output_rate(audio[0], sr)
