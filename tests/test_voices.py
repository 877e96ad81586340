"""Rendered vocal pools: real espeak-ng, festival, flite and Sinsy renders, their format, pitch and resumability.

espeak-ng and festival's kal voice are always there; flite, pysinsy, music21 and the other festival
voices may not be: then the test checks the one-line error that names the fix instead.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from isovox.core.errors import ToolMissingError
from isovox.training.corpus import vocal_engines as engines
from isovox.training.corpus import voices
from isovox.training.corpus.compose import Note
from isovox.training.corpus.pitch import add_vibrato, f0_track_hz, median_f0_hz
from isovox.training.corpus.singing import Excerpt, musicxml

SOURCE_KEYS = {"name", "role", "split", "category", "package", "licence", "licence_file", "attribution",
               "minutes", "items", "voices", "bandwidth_hz", "excluded", "notes"}
HAVE_MUSIC21 = importlib.util.find_spec("music21") is not None
HAVE_SINSY = importlib.util.find_spec("pysinsy") is not None


def _hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def _held_notes(pitches: list[int], note_s: float = 1.2, gap_s: float = 0.3) -> Excerpt:
    return Excerpt(tuple(Note(k * (note_s + gap_s), note_s, p, 90) for k, p in enumerate(pitches)), 60.0, "test")


def _sung_semitones(audio: np.ndarray, excerpt: Excerpt) -> list[float]:
    """Median f0 over the middle of each note, as semitone error against the score."""
    track = f0_track_hz(audio, voices.SAMPLE_RATE, 60.0, 1000.0)
    errors = []
    for note in excerpt.notes:
        middle = track[round((note.start_s + 0.35 * note.dur_s) * 100): round((note.start_s + 0.85 * note.dur_s) * 100)]
        errors.append(12 * np.log2(np.nanmedian(middle) / _hz(note.pitch)))
    return errors


def _check_line(path: Path, bandwidth_hz: int) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.format, info.subtype) == (44100, 1, "FLAC", "PCM_16")
    assert 20.0 <= info.duration <= 60.0
    audio, _ = sf.read(str(path), dtype="float32")
    hop = 441
    frames = audio[: audio.size // hop * hop].reshape(-1, hop)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    assert np.mean(rms > rms.max() * 10 ** (-40 / 20)) > 0.6  # the voice is active most of the time
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / 44100)
    above = spectrum[freqs > bandwidth_hz * 1.05].sum() / spectrum.sum()
    assert above < 1e-4  # nothing beyond the voice's own band: it was resampled, not stretched
    return audio


@pytest.fixture(scope="module")
def speech_pool(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pools")
    voices.render_voices(out, "train", 0.8, jobs=2, seed=4, sources=["espeak-speech"], progress=False)
    return out / "vocals" / "espeak-speech"


def test_espeak_speech_lines_format_and_source_json(speech_pool: Path):
    lines = sorted(speech_pool.glob("*.flac"))
    meta = json.loads((speech_pool / "source.json").read_text(encoding="utf-8"))
    assert set(meta) == SOURCE_KEYS
    assert (meta["name"], meta["role"], meta["split"], meta["category"]) == (
        "espeak-speech", "vocals", "train", "synthetic-speech")
    assert meta["items"] == len(lines) >= 2 and meta["excluded"] == [] and meta["bandwidth_hz"] == 11025
    assert isinstance(meta["voices"], int) and 1 <= meta["voices"] <= len(lines)
    assert meta["minutes"] == pytest.approx(sum(sf.info(str(p)).duration for p in lines) / 60, abs=0.01)
    assert Path(meta["licence_file"]).is_file() and meta["licence"] and meta["attribution"]
    for path in lines:
        _check_line(path, 11025)
    assert not list(speech_pool.glob(".*"))  # no temporary files left


def test_lines_are_deterministic_and_independent_of_jobs(speech_pool: Path, tmp_path: Path):
    voices.render_voices(tmp_path, "train", 0.8, jobs=1, seed=4, sources=["espeak-speech"], progress=False)
    again = tmp_path / "vocals" / "espeak-speech"
    for path in sorted(speech_pool.glob("*.flac")):
        np.testing.assert_array_equal(sf.read(str(path))[0], sf.read(str(again / path.name))[0])
    assert (speech_pool / "source.json").read_bytes() == (again / "source.json").read_bytes()


def test_a_rerun_renders_only_what_is_missing(tmp_path: Path, monkeypatch):
    voices.render_voices(tmp_path, "train", 0.8, jobs=1, seed=5, sources=["espeak-speech"], progress=False)
    folder = tmp_path / "vocals" / "espeak-speech"
    lines = sorted(folder.glob("*.flac"))
    kept, removed = lines[0], lines[-1]
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in lines}
    removed.unlink()
    (folder / f".{removed.name}.tmp").write_bytes(b"left by a stopped run")
    rendered = []
    real = voices.render_line
    monkeypatch.setattr(voices, "render_line", lambda source, seed, index: rendered.append(index) or real(
        source, seed, index))
    voices.render_voices(tmp_path, "train", 0.8, jobs=1, seed=5, sources=["espeak-speech"], progress=False)
    assert rendered == [len(lines) - 1]
    assert kept.stat().st_mtime_ns == before[kept.name][0]
    assert removed.read_bytes() == before[removed.name][1]  # the same line again
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "source.json"])


def test_festival_sings_the_melody_within_a_semitone(tmp_path: Path):
    excerpt = _held_notes([45, 52, 57, 50])
    audio = engines.festival_sing("kal_diphone", excerpt, ["la", "moon", "day", "home"], str(tmp_path))
    errors = _sung_semitones(audio, excerpt)
    assert np.all(np.abs(errors) < 1.0), errors
    again = engines.festival_sing("kal_diphone", excerpt, ["la", "moon", "day", "home"], str(tmp_path))
    np.testing.assert_array_equal(audio, again)


def test_espeak_sings_each_syllable_on_its_note(tmp_path: Path):
    excerpt = _held_notes([60, 67, 64, 72], note_s=0.9, gap_s=0.2)
    audio = engines.espeak_sing("en-us+f2", excerpt, ["la", "day", "sea", "go"], str(tmp_path))
    errors = _sung_semitones(audio, excerpt)
    assert np.all(np.abs(errors) < 1.0), errors
    assert audio.size >= excerpt.duration_s * voices.SAMPLE_RATE


def test_vibrato_moves_pitch_around_the_note_and_is_deterministic():
    sr = voices.SAMPLE_RATE
    tone = np.sin(2 * np.pi * 220.0 * np.arange(3 * sr) / sr).astype(np.float32)
    notes = [Note(0.0, 3.0, 57, 90)]
    wobbly = add_vibrato(tone, sr, notes, np.random.default_rng(1), 0.5, 0.0)
    track = f0_track_hz(wobbly, sr)[100:280]
    assert wobbly.shape == tone.shape
    assert abs(12 * np.log2(np.nanmedian(track) / 220.0)) < 0.1
    assert 0.4 < 12 * np.log2(np.nanmax(track) / 220.0) < 0.7
    np.testing.assert_array_equal(wobbly, add_vibrato(tone, sr, notes, np.random.default_rng(1), 0.5, 0.0))


@pytest.mark.parametrize("f0_hz", [82.0, 196.0, 440.0, 880.0])
def test_f0_estimate_of_a_harmonic_tone(f0_hz: float):
    sr = 22050
    t = np.arange(sr) / sr
    tone = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, 9))
    assert median_f0_hz(tone, sr) == pytest.approx(f0_hz, rel=0.005)


def test_musicxml_has_whole_bars_tied_notes_and_rests_at_both_ends():
    notes = (Note(0.0, 1.5, 62, 90), Note(1.5, 3.02, 74, 90), Note(4.9, 0.5, 66, 90))
    root = ET.fromstring(musicxml(Excerpt(notes, 60.0, "test"), ["ら", "か", "な"]))
    measures = root.findall("./part/measure")
    assert all(sum(int(d.text) for d in m.iter("duration")) == 4 * 480 for m in measures)
    sequence = [n for m in measures for n in m.findall("note")]
    assert sequence[0].find("rest") is not None and sequence[-1].find("rest") is not None
    assert [t.text for t in root.iter("text")] == ["ら", "か", "な"]
    assert [t.get("type") for t in root.iter("tie")] == ["start", "stop"]  # the 3 s note crosses a bar
    assert [(n.find("pitch/step").text, n.find("pitch/alter") is not None) for n in sequence
            if n.find("pitch") is not None][-1] == ("F", True)


def test_missing_engines_name_their_fix(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="apt-get install flite"):
        engines.program("flite")
    monkeypatch.undo()
    monkeypatch.setattr(engines, "FESTIVAL_VOICE_DIR", tmp_path)
    with pytest.raises(ToolMissingError, match="apt-get install festvox-kallpc16k"):
        voices.render_voices(tmp_path, "train", 1.0, 1, 1, sources=["festival-speech"], progress=False)
    monkeypatch.setitem(sys.modules, "music21", None)
    with pytest.raises(ToolMissingError, match="pip install music21"):
        voices.SOURCES_BY_NAME["espeak-singing"].check()


def test_the_command_line_reports_a_missing_engine_in_one_line(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    engines.require_flite_voice.cache_clear()
    code = voices.main([str(tmp_path), "--split", "heldout", "--sources", "flite-speech"])
    engines.require_flite_voice.cache_clear()
    error = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in error and "apt-get install flite" in error


@pytest.mark.skipif(shutil.which("flite") is not None, reason="flite is installed: the real render runs instead")
def test_flite_missing_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ToolMissingError, match="apt-get install flite"):
        voices.render_voices(tmp_path, "heldout", 0.3, 1, 1, sources=["flite-speech"], progress=False)


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (its error is tested instead)")
def test_flite_heldout_speech_uses_only_awb_and_rms(tmp_path: Path):
    [meta] = voices.render_voices(tmp_path, "heldout", 0.3, 1, 11, sources=["flite-speech"], progress=False)
    assert (meta["split"], meta["category"], meta["bandwidth_hz"]) == ("heldout", "synthetic-speech", 8000)
    [line] = (tmp_path / "vocals" / "flite-speech").glob("*.flac")
    _check_line(line, 8000)
    with pytest.raises(ValueError):
        engines.require_flite_voice("slt")


def test_sinsy_sings_or_names_its_install(tmp_path: Path):
    excerpt = _held_notes([64, 67, 71], note_s=1.0)
    lyrics = ["ら", "ら", "ら"]
    if not HAVE_SINSY:
        with pytest.raises(ToolMissingError, match="pip install pysinsy"):
            engines.sinsy_sing(excerpt, lyrics, str(tmp_path))
        return
    audio = engines.sinsy_sing(excerpt, lyrics, str(tmp_path))
    errors = _sung_semitones(audio, excerpt)
    assert np.median(np.abs(errors)) < 1.0, errors  # Sinsy's HMM follows the score loosely
    np.testing.assert_array_equal(audio, engines.sinsy_sing(excerpt, lyrics, str(tmp_path)))


def test_a_sung_line_from_real_melodies(tmp_path: Path):
    source = voices.SOURCES_BY_NAME["festival-singing"]
    if not HAVE_MUSIC21 or not (engines.FESTIVAL_VOICE_DIR / "english" / "ked_diphone").is_dir():
        with pytest.raises(ToolMissingError, match="pip install music21|apt-get install festvox-kdlpc16k"):
            source.check()
        return
    [meta] = voices.render_voices(tmp_path, "train", 0.3, 1, 2, sources=["festival-singing"], progress=False)
    assert (meta["category"], meta["items"], meta["bandwidth_hz"]) == ("sung", 1, 8000)
    [line] = (tmp_path / "vocals" / "festival-singing").glob("*.flac")
    audio = _check_line(line, 8000)
    track = f0_track_hz(audio, voices.SAMPLE_RATE, 60.0, 1000.0)
    sung = 12 * np.log2(track[np.isfinite(track)] / 440.0) + 69
    low, high = voices.FESTIVAL_EN_RANGE
    assert np.mean((sung > low - 1.5) & (sung < high + 1.5)) > 0.9  # sung inside the voice's range


def test_festival_voices_of_other_languages_speak_a_line_in_their_own_voice(tmp_path: Path):
    """The seven Czech, Finnish and Catalan voices render real lines; each keeps its own intonation
    (a female voice is not pulled down to the English voices' 90-135 Hz target)."""
    [meta] = voices.render_voices(tmp_path, "train", 0.3, 1, 5, sources=["festival-speech-world"],
                                  progress=False)
    assert (meta["category"], meta["split"]) == ("synthetic-speech", "train")
    [line] = (tmp_path / "vocals" / "festival-speech-world").glob("*.flac")
    _check_line(line, 22050)
    source = voices.SOURCES_BY_NAME["festival-speech-world"]
    f0_hz = {voice: median_f0_hz(source.chunk(source, voice, np.random.default_rng(1), 4.0, str(tmp_path)),
                             44100, 60.0, 500.0)
             for voice in ("czech_dita", "czech_machac")}
    assert f0_hz["czech_dita"] > 180 and f0_hz["czech_machac"] < 120, f0_hz


def test_a_missing_festival_voice_of_another_language_names_its_package(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(engines, "FESTIVAL_VOICE_DIR", tmp_path)
    with pytest.raises(ToolMissingError, match="apt-get install festvox-czech-dita"):
        voices.SOURCES_BY_NAME["festival-speech-world"].check()
