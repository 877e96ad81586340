"""`isovox make-corpus`: real fluidsynth, espeak-ng and festival renders of a ~1-minute corpus."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from isovox.core.errors import AudioFileError, LicenceError, ToolMissingError
from isovox.training.corpus.compose import Note, Part
from isovox.training.corpus.render import CorpusSettings, drums_soundfont, make_corpus, plan_tracks
from isovox.training.corpus.synth import render_midi_segments
from isovox.training.corpus.tools import DRUM_KIT_DIR, Tools, find_tools

STEM_FILES = ("mixture", "vocals", "drums", "bass", "other")
SEED = 4


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "c"
    make_corpus(str(out), CorpusSettings(minutes=1.0, seed=SEED, test_fraction=0.34), jobs=2, progress=False)
    return out


def _tracks(root: Path) -> dict[str, Path]:
    return {p.name: p for split in ("train", "test") for p in sorted((root / split).iterdir())}


def _read(path: Path) -> np.ndarray:
    audio, _ = sf.read(path, dtype="int16", always_2d=True)
    return audio.astype(np.int32)


def test_layout_and_format(corpus: Path):
    tracks = _tracks(corpus)
    assert len(tracks) >= 2 and any((corpus / "test").iterdir()) and any((corpus / "train").iterdir())
    for folder in tracks.values():
        assert sorted(p.stem for p in folder.iterdir()) == sorted(STEM_FILES)
        lengths = set()
        for name in STEM_FILES:
            info = sf.info(folder / f"{name}.wav")
            assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
            assert 20.0 <= info.duration <= 40.0
            lengths.add(info.frames)
        assert len(lengths) == 1
    assert not [p for p in corpus.rglob(".*.tmp")]


def test_mixture_is_exact_sum_of_stems(corpus: Path):
    for folder in _tracks(corpus).values():
        stems = {name: _read(folder / f"{name}.wav") for name in STEM_FILES}
        total = stems["vocals"] + stems["drums"] + stems["bass"] + stems["other"]
        np.testing.assert_array_equal(stems["mixture"], total)
        assert 0 < np.abs(stems["mixture"]).max() <= 32767


def test_vocals_are_sparse_and_audible(corpus: Path):
    manifest = json.loads((corpus / "corpus.json").read_text())
    sung = [t for t in manifest["tracks"] if t["vocal_sources"]]
    assert sung, "the test corpus should hold at least one track with a voice"
    longest_gaps = []
    for track in sung:
        vocals = _read(corpus / track["split"] / track["name"] / "vocals.wav") / 32768.0
        hop = 4410  # 100 ms frames
        frames = vocals[: len(vocals) // hop * hop].reshape(-1, hop, 2)
        rms_db = 10 * np.log10(np.mean(frames ** 2, axis=(1, 2)) + 1e-12)
        assert rms_db.max() > -40, f"{track['name']}: vocals almost silent"
        quiet = rms_db < rms_db.max() - 40
        run = best = 0
        for q in quiet:
            run = run + 1 if q else 0
            best = max(best, run)
        longest_gaps.append(best / 10)
    assert max(longest_gaps) >= 1.0, f"no silent stretch of 1 s in any vocal stem: {longest_gaps}"


def test_manifest(corpus: Path):
    manifest = json.loads((corpus / "corpus.json").read_text())
    assert manifest["seed"] == SEED and manifest["settings"]["minutes"] == 1.0
    assert manifest["track_count"] == len(_tracks(corpus)) == sum(manifest["track_counts"].values())
    seconds = sum(sf.info(f / "mixture.wav").duration for f in _tracks(corpus).values())
    assert manifest["hours"] * 3600 == pytest.approx(seconds, abs=0.5)
    assert manifest["hours"] * 60 >= 1.0
    assert manifest["usage"]["instruments"]["other"]
    assert manifest["sources"]["soundfont"].endswith("FluidR3_GM.sf2")
    assert {t["name"] for t in manifest["tracks"]} == set(_tracks(corpus))


def test_same_seed_same_audio(corpus: Path, tmp_path: Path):
    """A shorter corpus of the same seed is a prefix of the longer one, byte for byte (any --jobs)."""
    first = plan_tracks(CorpusSettings(minutes=0.3, seed=SEED))
    assert len(first) == 1
    make_corpus(str(tmp_path / "again"), CorpusSettings(minutes=0.3, seed=SEED), jobs=1, progress=False)
    again = _tracks(tmp_path / "again")[first[0].name]
    original = _tracks(corpus)[first[0].name]
    for name in STEM_FILES:
        assert (again / f"{name}.wav").read_bytes() == (original / f"{name}.wav").read_bytes()


def test_never_overwrites(corpus: Path):
    with pytest.raises(AudioFileError, match="already holds a corpus"):
        make_corpus(str(corpus), CorpusSettings(minutes=0.3, seed=SEED), progress=False)


def _path_without(tmp_path: Path, missing: str) -> str:
    """A PATH folder with links to every renderer except `missing`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("fluidsynth", "espeak-ng", "text2wave", "festival"):
        found = subprocess.run(["which", tool], capture_output=True, text=True, check=False).stdout.strip()
        if tool != missing and found:
            os.symlink(found, bin_dir / tool)
    return str(bin_dir)


@pytest.mark.parametrize("missing, package", [("fluidsynth", "fluidsynth"), ("espeak-ng", "espeak-ng"),
                                              ("text2wave", "festival")])
def test_missing_tool_names_the_package(tmp_path: Path, monkeypatch, missing: str, package: str):
    monkeypatch.setenv("PATH", _path_without(tmp_path, missing))
    with pytest.raises(ToolMissingError, match=f"apt-get install {package}"):
        find_tools()


def test_missing_soundfont(tmp_path: Path):
    with pytest.raises(ToolMissingError, match="fluid-soundfont-gm"):
        find_tools(soundfont=str(tmp_path / "none.sf2"))


def test_cli_missing_tool_is_one_line(tmp_path: Path):
    env = {**os.environ, "PATH": _path_without(tmp_path, "fluidsynth")}
    cmd = [sys.executable, "-m", "isovox", "make-corpus", str(tmp_path / "out"), "--minutes", "0.2"]
    proc = subprocess.run(cmd,
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "apt-get install fluidsynth" in proc.stderr
    assert not (tmp_path / "out" / "corpus.json").exists()


def test_reserved_soundfonts_are_refused_by_name_and_through_links(tmp_path: Path):
    """DATA.md reserves MuseScore_General, TimGM6mb, … (and default-GM.sf2 may link to one)."""
    reserved = tmp_path / "MuseScore_General.sf3"
    reserved.write_bytes(b"sfbk")
    (tmp_path / "default-GM.sf2").symlink_to(reserved)
    for path in (reserved, tmp_path / "default-GM.sf2"):
        with pytest.raises(LicenceError, match="reserved"):
            find_tools(soundfont=str(path))
    other = tmp_path / "OPL-3_FM_128M.sf2"
    other.write_bytes(b"sfbk")
    assert find_tools(soundfont=str(other)).soundfont == str(other)


def test_cli_refuses_a_reserved_soundfont_in_one_line(tmp_path: Path):
    (tmp_path / "TimGM6mb.sf2").write_bytes(b"sfbk")
    cmd = [sys.executable, "-m", "isovox", "make-corpus", str(tmp_path / "out"), "--minutes", "0.2",
           "--soundfont", str(tmp_path / "TimGM6mb.sf2")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and "reserved" in proc.stderr
    assert not (tmp_path / "out").exists()


KIT = Path(DRUM_KIT_DIR) / "Black_Pearl_4_LV2.sf2"
needs_kit = pytest.mark.skipif(not KIT.is_file(), reason="needs apt-get install avldrums.lv2-soundfont")


def _drum_part(program: int) -> Part:
    """Kick, snare, closed and open hi-hat, crash: GM drum notes every 0.25 s."""
    return Part("drums", program, True, [Note(0.25 * i, 0.2, pitch, 100) for i, pitch in enumerate((36, 38, 42, 46, 49))])


@needs_kit
def test_a_recorded_kit_plays_the_general_midi_drum_notes(tmp_path: Path):
    """The kit's only preset is bank 0: on the drum channel (bank 128) it would render silence."""
    tools = find_tools(drum_soundfonts=(str(KIT),))
    stems = [(2.0, [_drum_part(0)]), (2.0, [_drum_part(0)])]
    kit, general_midi = render_midi_segments(tools, str(tmp_path), stems, 22050, [str(KIT), tools.soundfont])
    assert kit.shape == general_midi.shape == (2, 44100)
    hits = [float(np.sqrt(np.mean(kit[:, round(0.25 * i * 22050):round((0.25 * i + 0.1) * 22050)] ** 2)))
            for i in range(5)]
    assert min(hits) > 1e-3, hits  # every piece sounds
    assert np.abs(kit - general_midi).max() > 0.1  # and it is not the General MIDI kit


def test_recorded_kits_stand_in_for_acoustic_kits_only_one_per_track_in_turn(tmp_path: Path):
    kits = (str(tmp_path / "a.sf2"), str(tmp_path / "b.sf2"))
    tools = Tools("fluidsynth", "espeak-ng", "text2wave", "gm.sf2", kits)
    assert [drums_soundfont(tools, i, [_drum_part(0)]) for i in range(3)] == [kits[0], kits[1], kits[0]]
    assert drums_soundfont(tools, 0, [_drum_part(16), _drum_part(8)]) == kits[0]
    assert drums_soundfont(tools, 0, [_drum_part(0), _drum_part(25)]) == "gm.sf2"  # TR-808 stays electronic
    assert drums_soundfont(tools, 0, []) == "gm.sf2"
    assert drums_soundfont(Tools("fluidsynth", "espeak-ng", "text2wave", "gm.sf2"), 0, [_drum_part(0)]) == "gm.sf2"


def test_reserved_or_missing_drum_kits_are_refused(tmp_path: Path):
    (tmp_path / "TimGM6mb.sf2").write_bytes(b"sfbk")
    with pytest.raises(LicenceError, match="reserved"):
        find_tools(drum_soundfonts=(str(tmp_path / "TimGM6mb.sf2"),))
    with pytest.raises(ToolMissingError, match="avldrums.lv2-soundfont"):
        find_tools(drum_soundfonts=(str(tmp_path / "none.sf2"),))


@needs_kit
def test_corpus_with_a_recorded_kit_names_it_per_track(tmp_path: Path):
    settings = CorpusSettings(minutes=0.7, seed=SEED, test_fraction=0.0, drum_soundfonts=(str(KIT),))
    manifest = make_corpus(str(tmp_path / "c"), settings, jobs=1, progress=False)
    assert manifest["sources"]["drum_soundfonts"] == [str(KIT)]
    assert any(track["drums_soundfont"] == KIT.name for track in manifest["tracks"])
    for track in manifest["tracks"]:
        acoustic = track["programs"]["drums"] and all(p in (0, 8, 16) for p in track["programs"]["drums"])
        assert track["drums_soundfont"] == (KIT.name if acoustic else "FluidR3_GM.sf2")
        drums = _read(tmp_path / "c" / "train" / track["name"] / "drums.wav")
        assert not track["programs"]["drums"] or np.abs(drums).max() > 1000
