"""Recorded sources and pools: real readers (libsndfile, ffmpeg, sox, zip) and the real pool writer on
small files made here, under the registry's own listers re-rooted into tmp_path."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from isovox.core.errors import AudioFileError, LicenceError, ToolMissingError
from isovox.host.cli import main as cli_main
from isovox.training.corpus import pools, sources
from isovox.training.corpus.conditioning import band_edge_hz
from isovox.training.corpus.decode import decode_file, decode_member, probe
from isovox.training.corpus.licences import parse_dep5, stanza_for
from isovox.training.corpus.loops import loop_period_seconds
from isovox.training.corpus.pool_items import to_rate
from isovox.training.corpus.sources import Source, SourceFile, with_root
from isovox.training.corpus.speech_lines import GAP_SECONDS, LINE_SECONDS, PEAK_DBFS, Utterance, plan_lines
from isovox.training.datasets import TrackScanner

RATE = 44100
F0 = {"aa": 200.0, "bb": 330.0, "cc": 470.0, "dd": 610.0}  # one pitch per speaker: lines show who speaks
GPL_DEP5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: Fake\n\n" \
           "Files: *\nCopyright: 2024, Test Speaker\nLicense: GPL-2+\n"

needs_tools = pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("sox")), reason="needs ffmpeg and sox")


def _utterance(f0: float, seconds: float, rate: int, seed: int) -> np.ndarray:
    """A voiced 'utterance' (harmonics with a smooth envelope) padded with 0.3 s of silence both sides."""
    t = np.arange(round(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 4)) * np.hanning(t.size) ** 0.5
    pad = np.zeros(round(0.3 * rate))
    level = 0.2 + 0.1 * np.random.default_rng(seed).random()
    return np.concatenate([pad, level * tone / np.abs(tone).max(), pad]).astype(np.float32)


def _ffmpeg(args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _dep5(path: Path, licence: str = "GPL-2+") -> Path:
    path.write_text(GPL_DEP5.replace("GPL-2+", licence))
    return path


def _speech_tree(root: Path) -> Path:
    """A KLettres-shaped tree: speakers aa (long), bb (a short line), cc (too short), hu (hum: excluded)."""
    for lang, kind, count, seconds in (("aa", "alpha", 24, 3.0), ("bb", "alpha", 3, 2.5), ("cc", "syllab", 1, 1.5),
                                       ("hu", "alpha", 2, 2.0)):
        folder = root / lang / kind
        folder.mkdir(parents=True)
        for k in range(count):
            sf.write(folder / f"a-{k:02d}.ogg", _utterance(F0.get(lang, 500.0), seconds, RATE, k), RATE,
                     format="OGG", subtype="VORBIS")
    shutil.copy(root / "aa" / "alpha" / "a-00.ogg", root / "aa" / "alpha" / "a-99.ogg")  # a duplicate
    return root


def _music_tree(root: Path) -> Path:
    """A Drascula-shaped folder: a stereo track, a mono one, a sung one (track1), one tagged 'choir', silence."""
    root.mkdir(parents=True)
    t = np.arange(7 * RATE) / RATE
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 110 * t), 0.3 * np.sin(2 * np.pi * 165 * t)])
    sf.write(root / "track3.ogg", stereo.T, RATE, format="OGG", subtype="VORBIS")
    t_mono = np.arange(7 * 22050) / 22050
    sf.write(root / "track4.ogg", np.concatenate([np.zeros(22050), 0.3 * np.sin(2 * np.pi * 220 * t_mono)]), 22050,
             format="OGG", subtype="VORBIS")
    sf.write(root / "track1.ogg", stereo.T, RATE, format="OGG", subtype="VORBIS")
    with sf.SoundFile(root / "track5.ogg", "w", RATE, 2, format="OGG", subtype="VORBIS") as f:
        f.title = "Choir of the night"
        f.write(stereo.T)
    sf.write(root / "track6.ogg", np.zeros((6 * RATE, 2)), RATE, format="OGG", subtype="VORBIS")
    return root


def _source(name: str, root: Path, copyright_file: Path, split: str = "train") -> Source:
    base = next(s for s in sources.SOURCES if s.name == name)
    return dataclasses.replace(with_root(base, root, copyright_file), split=split)


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sources")
    speech = _source("klettres-data", _speech_tree(root / "klettres"), _dep5(root / "klettres.copyright"))
    music = _source("drascula-music", _music_tree(root / "drascula"), _dep5(root / "drascula.copyright"),
                    split="train")
    out = root / "out"
    report = pools.prepare_pools(out, "train", jobs=1, registry=(music, speech), progress=False)
    return {"root": root, "speech": speech, "music": music, "out": out, "report": report}


# --- readers ------------------------------------------------------------------------------------

@needs_tools
def test_readers_decode_every_shipped_format(tmp_path):
    tone = _utterance(300.0, 1.0, 16000, 0)
    sf.write(tmp_path / "x.wav", tone, 16000)
    sf.write(tmp_path / "narrow.wav", tone[::2], 8000)
    sf.write(tmp_path / "x.ogg", np.stack([tone, tone]).T, 16000, format="OGG", subtype="VORBIS")
    _ffmpeg(["-i", str(tmp_path / "x.wav"), "-c:a", "libopus", str(tmp_path / "x.opus")])
    _ffmpeg(["-i", str(tmp_path / "x.wav"), "-c:a", "g722", str(tmp_path / "x.g722")])
    _ffmpeg(["-i", str(tmp_path / "x.wav"), "-c:a", "libmp3lame", str(tmp_path / "x.mp3")])
    subprocess.run(["sox", str(tmp_path / "narrow.wav"), "-t", "gsm", "-r", "8000", "-c", "1",
                    str(tmp_path / "x.gsm")], check=True)
    with zipfile.ZipFile(tmp_path / "a.pk3", "w") as zf:
        zf.write(tmp_path / "x.ogg", "music/x.ogg")
    expected = {"x.opus": (48000, 1), "x.g722": (16000, 1), "x.gsm": (8000, 1), "narrow.wav": (8000, 1),
                "x.ogg": (16000, 2), "x.mp3": (16000, 1)}
    decoded = {name: decode_file(tmp_path / name) for name in expected}
    decoded["a.pk3:music/x.ogg"] = decode_member(tmp_path / "a.pk3", "music/x.ogg")
    expected["a.pk3:music/x.ogg"] = (16000, 2)
    for name, (audio, rate) in decoded.items():
        assert (rate, audio.shape[0]) == expected[name], name
        assert audio.dtype == np.float32 and abs(audio.shape[1] / rate - 1.6) < 0.1, name
        assert np.abs(audio).max() > 0.05, name


# --- pools --------------------------------------------------------------------------------------

def _lines(out: Path) -> dict[str, np.ndarray]:
    return {p.stem: sf.read(p, dtype="int16")[0] for p in sorted((out / "vocals" / "klettres-data").glob("*.flac"))}


def _speaker_of(line: np.ndarray) -> str:
    spectrum = np.abs(np.fft.rfft(line.astype(np.float64)))
    freqs = np.fft.rfftfreq(line.size, 1 / RATE)
    levels = {s: spectrum[np.abs(freqs - f0) < 3].max() for s, f0 in F0.items()}
    speaker = max(levels, key=levels.get)
    others = max(v for s, v in levels.items() if s != speaker)
    assert others < 0.05 * levels[speaker], "a line holds two speakers"
    return speaker


def test_pool_format_lines_and_one_speaker_per_line(fake):
    out = fake["out"]
    speech_dir, music_dir = out / "vocals" / "klettres-data", out / "accompaniment" / "drascula-music"
    for path in speech_dir.glob("*.flac"):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (RATE, 1, "FLAC", "PCM_16")
    for path in music_dir.glob("*.flac"):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (RATE, 2, "FLAC", "PCM_16")
    lines = _lines(out)
    by_speaker: dict[str, list[float]] = {}
    for name, line in lines.items():
        speaker = _speaker_of(line)
        assert name.startswith(f"{speaker}-")
        by_speaker.setdefault(speaker, []).append(line.size / RATE)
        assert 10 ** (PEAK_DBFS[0] / 20) - 0.01 <= np.abs(line).max() / 32768 <= 10 ** (PEAK_DBFS[1] / 20) + 0.01
    assert len(by_speaker["aa"]) >= 2 and all(LINE_SECONDS[0] <= s <= LINE_SECONDS[1] for s in by_speaker["aa"])
    assert len(by_speaker["bb"]) == 1 and 5.0 <= by_speaker["bb"][0] < LINE_SECONDS[0]  # all bb has
    assert "cc" not in by_speaker
    meta = json.loads((speech_dir / "source.json").read_text())
    assert meta["voices"] == 2 and meta["items"] == len(lines) and meta["category"] == "real-speech"
    assert meta["licence"] == "GPL-2+" and "Test Speaker" in meta["attribution"]
    assert abs(meta["minutes"] - sum(x.size for x in lines.values()) / RATE / 60) < 0.01
    assert 3 * F0["aa"] < meta["bandwidth_hz"] < 3000  # harmonics up to 3 f0: the band is what is there


def test_exclusions_are_recorded_with_reasons(fake):
    out = fake["out"]
    speech = json.loads((out / "vocals" / "klettres-data" / "source.json").read_text())
    reasons = {Path(e["file"]).relative_to(fake["speech"].root).as_posix(): e["reason"] for e in speech["excluded"]}
    assert "hum" in reasons["hu/alpha/a-00.ogg"] and "identical to" in reasons["aa/alpha/a-99.ogg"]
    assert "< 5 s" in reasons["cc/syllab/a-00.ogg"]
    music = json.loads((out / "accompaniment" / "drascula-music" / "source.json").read_text())
    reasons = {Path(e["file"]).name: e["reason"] for e in music["excluded"]}
    assert set(reasons) == {"track1.ogg", "track5.ogg", "track6.ogg"}
    assert "vocals" in reasons["track1.ogg"] and "Choir" in reasons["track5.ogg"] and reasons["track6.ogg"] == "silent"
    mono_track, _ = sf.read(out / "accompaniment" / "drascula-music" / "track4.flac")
    assert np.array_equal(mono_track[:, 0], mono_track[:, 1]) and abs(len(mono_track) / RATE - 7.0) < 0.1  # trimmed
    manifest = json.loads((out / "pools.json").read_text())
    assert manifest["split"] == "train" and [s["name"] for s in manifest["sources"]] == ["klettres-data",
                                                                                         "drascula-music"]


def test_rendering_is_deterministic_and_independent_of_jobs(fake, tmp_path):
    again = tmp_path / "again"
    pools.prepare_pools(again, "train", jobs=2, registry=(fake["speech"],), progress=False)
    first, second = _lines(fake["out"]), _lines(again)
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)


def test_rerun_writes_nothing_and_resumes_a_missing_item(fake):
    out = fake["out"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    pools.prepare_pools(out, "train", jobs=1, registry=(fake["music"], fake["speech"]), progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    speech_dir = out / "vocals" / "klettres-data"
    victim = sorted(speech_dir.glob("aa-*.flac"))[1]
    kept = sf.read(victim, dtype="int16")[0]
    victim.unlink()
    (speech_dir / "source.json").unlink()
    pools.prepare_pools(out, "train", jobs=1, registry=(fake["music"], fake["speech"]), progress=False)
    changed = {p for p in out.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns}
    assert changed == {victim, speech_dir / "source.json", speech_dir / ".items.jsonl"}
    assert np.array_equal(sf.read(victim, dtype="int16")[0], kept)


def test_missing_package_names_apt_get_and_can_be_skipped(fake, tmp_path):
    gone = with_root(fake["speech"], tmp_path / "not-installed")
    with pytest.raises(ToolMissingError, match="apt-get install klettres-data"):
        pools.prepare_pools(tmp_path / "out", "train", registry=(gone,), progress=False)
    no_doc = with_root(fake["speech"], fake["speech"].root, tmp_path / "missing-copyright")
    with pytest.raises(ToolMissingError, match="apt-get install klettres-data"):
        pools.check_source(no_doc)
    skipped: list[str] = []
    report = pools.prepare_pools(fake["out"], "train", registry=(gone, fake["music"]), skip_missing=True,
                                 progress=False, on_skip=skipped.append)
    assert report.skipped == ["klettres-data"] and "apt-get install klettres-data" in skipped[0]


def test_non_commercial_licence_is_refused_for_train_only(fake, tmp_path):
    nc = _dep5(tmp_path / "copyright", "CC-BY-NC-4.0")
    with pytest.raises(LicenceError, match=r"klettres-data.*CC-BY-NC-4.0.*NC/ND"):
        pools.check_source(with_root(fake["speech"], fake["speech"].root, nc))
    heldout = dataclasses.replace(with_root(fake["speech"], fake["speech"].root, nc), split="heldout")
    assert pools.check_source(heldout).licence.licence == "CC-BY-NC-4.0"


def test_cli_rejects_an_unknown_source_in_one_line(tmp_path, capsys):
    assert cli_main(["prepare-data", str(tmp_path / "p"), "--split", "heldout", "--only", "klettres-data"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not a heldout source" in error


# --- pure parts ---------------------------------------------------------------------------------

def test_line_plan_is_deterministic_and_within_bounds():
    files = [SourceFile(f"{s}/{k:03d}.ogg", f"/x/{s}/{k:03d}.ogg", speaker=s) for s in ("p", "q") for k in range(60)]
    utterances = [Utterance(f, 16000, 0, 16000 * (1 + k % 4)) for k, f in enumerate(files)]
    plans, excluded = plan_lines("fake", utterances)
    assert plans == plan_lines("fake", list(reversed(utterances)))[0] and not excluded
    assert plans != plan_lines("other", utterances)[0]
    for plan in plans:
        assert len({u.file.speaker for u in plan.utterances}) == 1
        assert LINE_SECONDS[0] <= plan.seconds <= LINE_SECONDS[1]
        assert all(GAP_SECONDS[0] <= g <= GAP_SECONDS[1] for g in plan.gaps_seconds)
        assert all(PEAK_DBFS[0] <= p <= PEAK_DBFS[1] for p in plan.peaks_dbfs)
    assert sum(len(p.utterances) for p in plans) == len(utterances)


def test_dep5_last_matching_stanza_wins():
    text = GPL_DEP5 + "\nFiles: base/music/a.ogg\n base/music/b.ogg\nCopyright: Someone\nLicense: CC-BY-3.0\n"
    stanzas = parse_dep5(text)
    assert stanza_for(stanzas, "base/music/b.ogg").licence == "CC-BY-3.0"
    assert stanza_for(stanzas, "base/music/c.ogg").licence == "GPL-2+"


def test_band_edge_of_narrowband_audio_survives_resampling():
    noise = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    assert 7600 < band_edge_hz(to_rate(noise[None], 16000), RATE) <= 8000
    assert band_edge_hz(noise[None], 16000) > 7900


def test_loop_period_found_only_in_a_looped_track():
    rng = np.random.default_rng(3)
    rate = 8000
    loop = np.concatenate([rng.standard_normal(rate // 4) * rng.uniform(0.01, 0.5) for _ in range(84)])  # 21 s
    looped = np.tile(loop, 3)[None].astype(np.float32)
    assert abs(loop_period_seconds(looped, rate) - 21.0) <= 0.25
    varied = np.concatenate([rng.standard_normal(rate // 4) * rng.uniform(0.01, 0.5) for _ in range(252)])
    assert loop_period_seconds(varied[None].astype(np.float32), rate) is None


def _touch(root: Path, *rels: str) -> None:
    """Empty files at these paths under `root` (the listers read names only)."""
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def test_listers_read_only_whitelisted_folders_and_name_speakers(tmp_path):
    _touch(tmp_path, "gods/cs/b1-1.ogg", "gods/cs/gods-m-ahoj.ogg", "gods/nl/b1-1.ogg",
           "share/borejokes/cs/ob-v-co.ogg", "barrel/cs/bar-x-vypr.ogg", "hole/cs/m-nedame0.ogg")
    files, excluded = sources.list_fillets(tmp_path)
    speakers = {f.item_id: f.speaker for f in files}
    assert speakers == {"gods/cs/b1-1.ogg": "gods:b1", "gods/cs/gods-m-ahoj.ogg": "small-fish",
                        "share/borejokes/cs/ob-v-co.ogg": "big-fish", "hole/cs/m-nedame0.ogg": "small-fish"}
    assert [Path(e.file).name for e in excluded] == ["bar-x-vypr.ogg"]  # no nl file, listed or excluded
    assert next(s for s in sources.SOURCES if s.name == "ufoai-music").exclude  # the probable Nexuiz tracks
    assert {s.name for s in sources.sources_for("heldout")} == {
        "supertux-data", "drascula-music", "fretsonfire-songs-sectoid", "asterisk-core-sounds-it-g722",
        "asterisk-core-sounds-ru-g722"}


def test_name_patterns_exclude_files_with_their_reason(fake):
    music = dataclasses.replace(fake["music"], exclude=(("track3.*", "left out by name"),))
    files, excluded = music.list_files()
    assert "track3.ogg" not in {f.item_id for f in files}
    assert sources.Exclusion(str(Path(music.root) / "track3.ogg"), "left out by name") in excluded


def test_guitar_only_songs_list_the_stem_and_exclude_the_sung_mix(tmp_path):
    _touch(tmp_path, "armygeddon/song.ogg", "armygeddon/guitar.ogg", "armygeddon/song.ini", "solo/song.ogg")
    (tmp_path / "armygeddon" / "song.ini").write_text("[song]\nartist = Muldjord\nname = Armygeddon\n")
    muldjord = with_root(next(s for s in sources.SOURCES if s.name == "fretsonfire-songs-muldjord"), tmp_path)
    files, excluded = muldjord.list_files()
    assert [(f.item_id, Path(f.path).name, f.parts) for f in files] == [("armygeddon", "guitar.ogg", ())]
    assert files[0].title == "Muldjord - Armygeddon (guitar stem)"
    assert sorted(Path(e.file).parent.name for e in excluded) == ["armygeddon", "solo"]
    assert all("vocals" in e.reason for e in excluded)


def test_music_listers_read_several_patterns_and_leave_out_doubtful_tracks(tmp_path):
    _touch(tmp_path, "techs/megapack/factions/romans/music/romans.ogg",
           "techs/megapack/factions/indian/music/music_indian.ogg", "techs/megapack/factions/romans/units/x/a.ogg",
           "data/core/menu/music/menu_music.ogg")
    megaglest = with_root(next(s for s in sources.SOURCES if s.name == "megaglest-data"), tmp_path)
    files, excluded = megaglest.list_files()
    assert [f.item_id for f in files] == ["data/core/menu/music/menu_music.ogg",
                                          "techs/megapack/factions/romans/music/romans.ogg"]  # no unit voice lines
    assert [Path(e.file).name for e in excluded] == ["music_indian.ogg"]
    assert "voice" in excluded[0].reason


def test_probe_falls_back_to_libsndfile_where_ffprobe_refuses_a_header(tmp_path, monkeypatch):
    """Some Ogg Vorbis files (HyperRogue's) have headers ffprobe rejects and libsndfile reads."""
    track = tmp_path / "x.ogg"
    with sf.SoundFile(track, "w", 22050, 1, format="OGG", subtype="VORBIS") as f:
        f.title = "Caribbean"
        f.write(np.zeros(22050 * 2, np.float32))
    refusing = tmp_path / "bin" / "ffprobe"  # a real executable on PATH that fails like ffprobe does
    refusing.parent.mkdir()
    refusing.write_text("#!/bin/sh\necho 'Invalid data found when processing input' >&2\nexit 1\n")
    refusing.chmod(0o755)
    monkeypatch.setenv("PATH", f"{refusing.parent}:{os.environ['PATH']}")
    info = probe(track)
    assert info["tags"]["title"] == "Caribbean" and abs(info["seconds"] - 2.0) < 1e-6
    (tmp_path / "bad.ogg").write_bytes(b"OggS not really")
    with pytest.raises(AudioFileError, match="reinstall its package"):
        probe(tmp_path / "bad.ogg")


def test_small_sources_share_the_sampling_group_they_name(fake, tmp_path):
    """Training draws a group uniformly: small packages pooled in one group are not each worth a big one."""
    grouped = dataclasses.replace(fake["music"], sampling_group="game-music-2")
    out = tmp_path / "out"
    pools.prepare_pools(out, "train", registry=(grouped,), progress=False)
    meta = json.loads((out / "accompaniment" / grouped.name / "source.json").read_text())
    assert meta["sampling_group"] == "game-music-2"
    tracks = TrackScanner(out, RATE, split="train").scan()
    assert tracks and {t.source for t in tracks} == {"game-music-2"}
    plain = TrackScanner(fake["out"], RATE, split="train").scan()
    assert {t.source for t in plain} == {fake["music"].name, fake["speech"].name}


def test_model_card_lists_every_training_source_with_its_declared_licence():
    """The shipped model's card names each recorded train source in a table row, with the licence
    the registry declares for it (DEP-5 sources carry theirs per file, so only their row is required)."""
    card = (Path(__file__).resolve().parents[1] / "isovox" / "models" / "MODEL_CARD.md").read_text()
    rows = [line for line in card.splitlines() if line.startswith("| ")]
    for source in sources.sources_for("train"):
        row = next((r for r in rows if source.package in r), None)
        assert row is not None, f"MODEL_CARD.md has no table row for {source.package}"
        if source.licence:
            assert source.licence in row, f"{source.package}: its row does not give {source.licence}"
