"""Sound sources: fluidsynth (General MIDI soundfont), espeak-ng and festival's kal voice.

One fluidsynth process renders many stems: their parts are laid one after another in a single MIDI
file (`render_midi_segments`), then cut apart, so each soundfont loads once per batch. Voices render one
phrase per process. Every function returns float32 audio at the requested sample rate.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import tempfile
from fractions import Fraction

import mido
import numpy as np
import pedalboard
import soundfile as sf
from isovox.core.errors import AudioFileError
from isovox.training.corpus.compose import Note, Part, VocalPhrase
from isovox.training.corpus.pitch import median_f0_hz
from isovox.training.corpus.tools import Tools
from scipy.signal import resample_poly

TICKS_PER_SECOND = 960  # ticks_per_beat 960 at 60 bpm: 1 tick ~ 1 ms
SEGMENT_TAIL_S = 2.5    # silence between stems in one render, for release and reverb tails


def resample(audio: np.ndarray, sr_in: int, sr_out: int, shift_semitones: float = 0.0) -> np.ndarray:
    """Resample the last axis; `shift_semitones` > 0 also raises pitch (and tempo) like a faster tape."""
    ratio = Fraction(sr_out / sr_in / 2.0 ** (shift_semitones / 12.0)).limit_denominator(1000)
    if ratio == 1:
        return audio.astype(np.float32)
    return resample_poly(audio, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AudioFileError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}; "
                             f"check that the tool runs by hand: {' '.join(cmd[:3])} ...")


def _read(path: str, what: str) -> tuple[np.ndarray, int]:
    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFileError(f"{what} wrote no readable audio at {path}: {exc}") from exc
    return audio.T, sr  # (channels, samples)


def write_segments_midi(path: str, segments: list[tuple[float, list[Part]]], end_s: float) -> None:
    """One type-0 MIDI file: segment k's parts start at its offset (seconds), channels reset between."""
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)

    def tick(t: float) -> int:
        return round(t * TICKS_PER_SECOND)

    for offset_s, parts in segments:
        melodic = iter([c for c in range(16) if c != 9])
        for part in parts:
            ch = 9 if part.is_drum else next(melodic)
            t0 = tick(offset_s)
            settings = ((121, 0), (7, part.volume), (10, part.pan), (91, part.reverb), (93, part.chorus))
            for ctl, val in settings:
                events.append((t0, 0, mido.Message("control_change", channel=ch, control=ctl, value=val)))
            events.append((t0, 1, mido.Message("program_change", channel=ch, program=part.program)))
            for n in part.notes:
                start = tick(offset_s + n.start_s)
                on = mido.Message("note_on", channel=ch, note=n.pitch, velocity=n.velocity)
                events.append((start, 3, on))
                events.append((max(start + 1, tick(offset_s + n.start_s + n.dur_s)), 2,
                               mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
    events.append((tick(end_s), 4, mido.Message("control_change", channel=0, control=123, value=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_SECOND)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    last = 0
    for t, _, msg in events:
        track.append(msg.copy(time=t - last))
        last = t
    midi.tracks.append(track)
    midi.save(path)


def _as_kit_preset(part: Part) -> Part:
    """A drum part for a kit soundfont, whose only preset (bank 0, program 0) is the kit: played on a
    melodic channel, since the drum channel would look for bank 128. GM drum notes map onto its pieces."""
    return dataclasses.replace(part, program=0, is_drum=False) if part.is_drum else part


def render_midi_segments(tools: Tools, workdir: str, stems: list[tuple[float, list[Part]]],
                         sample_rate: int, soundfonts: list[str] | None = None) -> list[np.ndarray]:
    """Render each (duration_s, parts) stem, one fluidsynth run per soundfont; returns (2, round(duration*sr))
    each. `soundfonts[k]` is stem k's font (default `tools.soundfont`); stems on a font of
    `tools.drum_soundfonts` have their drum parts played as that kit."""
    fonts = soundfonts or [tools.soundfont] * len(stems)
    out: list[np.ndarray] = [np.empty((2, 0), np.float32)] * len(stems)
    for font in dict.fromkeys(fonts):
        picked = [k for k, f in enumerate(fonts) if f == font]
        as_kit = font in tools.drum_soundfonts
        batch = [(stems[k][0], [_as_kit_preset(p) for p in stems[k][1]] if as_kit else stems[k][1])
                 for k in picked]
        for k, audio in zip(picked, _render_font(tools.fluidsynth, font, workdir, batch, sample_rate)):
            out[k] = audio
    return out


def _render_font(fluidsynth: str, soundfont: str, workdir: str, stems: list[tuple[float, list[Part]]],
                 sample_rate: int) -> list[np.ndarray]:
    """Lay the stems one after another in one MIDI file, render it with `soundfont`, cut it apart."""
    segments, offset = [], 0.0
    for duration_s, parts in stems:
        segments.append((offset, parts))
        offset += duration_s + SEGMENT_TAIL_S
    mid, wav = os.path.join(workdir, "batch.mid"), os.path.join(workdir, "batch.wav")
    write_segments_midi(mid, segments, offset)
    _run([fluidsynth, "-ni", "-q", "-g", "0.5", "-r", str(sample_rate), "-o", "audio.file.format=float",
          "-o", "synth.polyphony=256", "-F", wav, soundfont, mid], "fluidsynth")
    audio, _sr = _read(wav, "fluidsynth")
    os.remove(wav)
    total = round(offset * sample_rate) + sample_rate
    if audio.shape[1] < total:
        audio = np.pad(audio, ((0, 0), (0, total - audio.shape[1])))
    out = []
    for (start_s, _), (duration_s, _) in zip(segments, stems):
        a = round(start_s * sample_rate)
        out.append(np.ascontiguousarray(audio[:, a:a + round(duration_s * sample_rate)]))
    return out


def transpose(audio: np.ndarray, sample_rate: int, shift_semitones: float,
              stretch: float = 1.0) -> np.ndarray:
    """Formant-preserving pitch shift (rubberband); `stretch` > 1 also shortens. (samples,) -> (samples',)."""
    if abs(shift_semitones) < 1e-3 and abs(stretch - 1.0) < 1e-3:
        return audio
    return pedalboard.time_stretch(audio[None, :].astype(np.float32), sample_rate, stretch_factor=stretch,
                                   pitch_shift_in_semitones=shift_semitones, preserve_formants=True,
                                   high_quality=False)[0]


@functools.lru_cache(maxsize=256)
def espeak_pitch_range(espeak: str, voice: str) -> tuple[float, float]:
    """F0 in Hz of `voice` at SSML prosody pitch 0 and 99 (monotone), measured once per process and voice.

    numpy's f0 estimate, not librosa.yin: its numba cache, written by two workers at once, segfaults
    every later process (numba issue 10128), and it compiles for ~6 s in every new worker."""
    f0s = []
    for level in (0, 99):
        ssml = f'<speak><prosody pitch="{level}" range="0">laa maa</prosody></speak>'
        with tempfile.TemporaryDirectory(prefix="isovox-espeak-") as workdir:
            path = os.path.join(workdir, "calibration.wav")
            _run([espeak, "-m", "-v", voice, "-w", path, ssml], "espeak-ng")
            audio, sr = _read(path, "espeak-ng")
        f0s.append(median_f0_hz(audio[0], sr, 50.0, 1000.0))
    low, high = f0s
    if not (np.isfinite(low) and np.isfinite(high) and high > low * 1.2):
        return 70.0, 180.0  # whisper and odd variants: a plausible span
    return low, high


def _hz(pitch: int) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def espeak_sing(tools: Tools, workdir: str, phrase: VocalPhrase, sample_rate: int) -> np.ndarray:
    """Sing `phrase.notes` with espeak-ng: SSML prosody pitch per syllable, monotone within it.

    espeak's pitch control spans ~1.5 octaves per voice; the melody is placed inside that span and the
    rest of the transposition is done by resampling (moves the formants) or by rubberband (keeps them).
    The phrase is then time-stretched (0.6..1.6x) towards the length of its notes. Returns (samples,).
    """
    low, high = espeak_pitch_range(tools.espeak, phrase.voice)
    centre = float(np.median([_hz(n.pitch) for n in phrase.notes]))
    shift = float(np.clip(np.round(12 * np.log2(centre / np.sqrt(low * high))), -7, 7))
    span = np.log2(high / low)
    parts, prev_end = [], phrase.notes[0].start_s
    for note, word in zip(phrase.notes, phrase.words):
        gap_ms = int(1000 * (note.start_s - prev_end))
        if gap_ms > 60:
            parts.append(f'<break time="{gap_ms}ms"/>')
        target = _hz(note.pitch) / 2.0 ** (shift / 12.0)
        level = int(np.clip(round(99 * np.log2(target / low) / span), 0, 99))
        rate = int(np.clip(100 * 0.28 / max(note.dur_s, 0.05), 30, 250))
        parts.append(f'<prosody pitch="{level}" range="0" rate="{rate}%">{word}</prosody>')
        prev_end = note.start_s + note.dur_s
    ssml = "<speak>" + " ".join(parts) + "</speak>"
    path = os.path.join(workdir, "sing.wav")
    _run([tools.espeak, "-m", "-v", phrase.voice, "-w", path, ssml], "espeak-ng")
    audio, sr = _read(path, "espeak-ng")
    slot_samples = (prev_end - phrase.notes[0].start_s) * sample_rate
    if phrase.preserve_formants:
        voice = resample(audio[0], sr, sample_rate)
        stretch = float(np.clip(voice.size / slot_samples, 0.6, 1.6))
        return transpose(voice, sample_rate, shift, stretch)
    voice = resample(audio[0], sr, sample_rate, shift)
    return transpose(voice, sample_rate, 0.0, float(np.clip(voice.size / slot_samples, 0.6, 1.6)))


def espeak_speak(tools: Tools, workdir: str, phrase: VocalPhrase, sample_rate: int) -> np.ndarray:
    """Plain spoken sentence with espeak-ng at the phrase's speed and pitch. Returns (samples,)."""
    path = os.path.join(workdir, "speak.wav")
    _run([tools.espeak, "-v", phrase.voice, "-s", str(phrase.speed_wpm), "-p", str(phrase.pitch),
          "-w", path, " ".join(phrase.words)], "espeak-ng")
    audio, sr = _read(path, "espeak-ng")
    return resample(audio[0], sr, sample_rate)


def festival_wave(text2wave: str, workdir: str, text: str, mode: str | None, voice: str = "kal_diphone",
                  scheme: str | None = None) -> tuple[np.ndarray, int]:
    """Render `text` with festival's `voice`, then `scheme` (settings) evaluated; returns (samples,), rate.

    The voice is always named: festival's default voice list starts with the reserved slt voice."""
    src, path = os.path.join(workdir, "festival.txt"), os.path.join(workdir, "festival.wav")
    with open(src, "w", encoding="utf-8") as f:
        f.write(text)
    cmd = [text2wave, *(["-mode", mode] if mode else []), "-eval", f"(voice_{voice})",
           *(["-eval", scheme] if scheme else []), src, "-o", path]
    _run(cmd, "festival text2wave")
    audio, sr = _read(path, "festival text2wave")
    return audio[0], sr


def festival_song_xml(notes: list[Note], words: list[str], shift_semitones: float = 0.0,
                      duration_scale: float = 1.0) -> str:
    """Festival singing-mode XML: one PITCH/DURATION per note (sung `shift_semitones` lower), RESTs in gaps."""
    body, prev_end = [], notes[0].start_s
    for note, word in zip(notes, words):
        gap = note.start_s - prev_end
        if gap > 0.03:
            body.append(f'<REST SECONDS="{gap:.3f}"></REST>')
        freq = _hz(note.pitch) / 2.0 ** (shift_semitones / 12.0)
        dur = note.dur_s * duration_scale
        body.append(f'<PITCH FREQ="{freq:.1f}"><DURATION SECONDS="{dur:.3f}">{word}</DURATION></PITCH>')
        prev_end = note.start_s + note.dur_s
    return ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
            '"Singing.v0_1.dtd" []>\n<SINGING BPM="60">\n' + "\n".join(body) + "\n</SINGING>\n")


def festival_sing(tools: Tools, workdir: str, phrase: VocalPhrase, sample_rate: int) -> np.ndarray:
    """Sing `phrase.notes` with festival's singing mode (kal voice), exact pitches and durations.

    High (female-range) melodies are sung lower and shifted up (resampled, or formant-preserving), as
    kal's diphones break above ~250 Hz.
    Returns (samples,).
    """
    centre = float(np.median([_hz(n.pitch) for n in phrase.notes]))
    shift = float(np.clip(np.round(12 * np.log2(centre / 150.0)), 0, 9))
    # resampling up by `shift` shortens the audio, so sing longer by the same factor
    xml = festival_song_xml(phrase.notes, phrase.words, shift,
                            1.0 if phrase.preserve_formants else 2.0 ** (shift / 12.0))
    audio, sr = festival_wave(tools.text2wave, workdir, xml, "singing")
    if phrase.preserve_formants:
        return transpose(resample(audio, sr, sample_rate), sample_rate, shift)
    return resample(audio, sr, sample_rate, shift)


def festival_speak(tools: Tools, workdir: str, phrase: VocalPhrase, sample_rate: int) -> np.ndarray:
    """Spoken sentence with festival's kal voice, shifted by `phrase.pitch_shift_semitones`.

    Returns (samples,)."""
    audio, sr = festival_wave(tools.text2wave, workdir, " ".join(phrase.words) + ".", None)
    return resample(audio, sr, sample_rate, phrase.pitch_shift_semitones)


RENDERERS = {"espeak-sing": espeak_sing, "espeak-speak": espeak_speak,
             "festival-sing": festival_sing, "festival-speak": festival_speak}


def render_phrase(tools: Tools, workdir: str, phrase: VocalPhrase, sample_rate: int) -> np.ndarray:
    """Render one vocal phrase with its source; returns mono float32 (samples,)."""
    return RENDERERS[phrase.source](tools, workdir, phrase, sample_rate)


