"""`benchmarks/heldout_suite.py` on tiny synthetic pools, and the quality benchmark's per-category medians."""
from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from isovox.core.errors import AudioDataError, AudioFileError
from isovox.training.benchmark import quality

SUITE_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "heldout_suite.py"
RATE = 44100
PER_CATEGORY = 2
CLIP_SECONDS = 3.0  # the real suite's are 10 s; short clips keep the test fast


def _load_script(name: str):
    """A `benchmarks/<name>.py` script as a module."""
    spec = importlib.util.spec_from_file_location(name, SUITE_SCRIPT.with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


suite = _load_script("heldout_suite")


def _voice(seconds: float, f0: float, silent_seconds: float) -> np.ndarray:
    """Mono harmonic 'voice' with vibrato, silent for its first `silent_seconds`."""
    t = np.arange(round(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6)) * 0.3
    voice[t < silent_seconds] = 0.0
    return voice.astype(np.float32)


def _write_source(root: Path, role: str, name: str, category: str, items: list[np.ndarray],
                  split: str = "heldout") -> None:
    folder = root / role / name
    folder.mkdir(parents=True)
    for k, audio in enumerate(items):
        sf.write(str(folder / f"{name}-{k}.flac"), audio.T if audio.ndim == 2 else audio, RATE)
    meta = {"name": name, "role": role, "split": split, "category": category, "licence": "CC0-1.0",
            "attribution": f"test {name}", "minutes": 1.0, "items": len(items), "voices": 1,
            "bandwidth_hz": 20000, "item_names": [f"{name}-{k}" for k in range(len(items))]}
    (folder / "source.json").write_text(json.dumps(meta))


def _make_pools(root: Path, with_sung: bool = True) -> Path:
    rng = np.random.default_rng(0)
    _write_source(root, "vocals", "talk", "real-speech", [_voice(5.5, 120 + 10 * k, 2.0) for k in range(3)])
    _write_source(root, "vocals", "tts", "synthetic-speech",
                  [_voice(5.0, 160 + 10 * k, 2.0) for k in range(3)])
    if with_sung:
        _write_source(root, "vocals", "sing", "sung", [_voice(6.0, 220 + 20 * k, 2.0) for k in range(3)])
        sf.write(str(root / "vocals" / "sing" / "undeclared.flac"), _voice(5.0, 500, 0.0), RATE)  # unlisted
    _write_source(root, "vocals", "short", "sung", [_voice(2.0, 300, 0.0)])  # too short for a clip: unused
    t = np.arange(7 * RATE) / RATE
    band = [np.stack([np.sin(2 * np.pi * f * t) * 0.2 + 0.05 * rng.standard_normal(t.size),
                      np.sin(2 * np.pi * 1.5 * f * t) * 0.2]).astype(np.float32) for f in (110.0, 98.0)]
    _write_source(root, "accompaniment", "band", "real-music", band)
    return root


def fake_midi(stems, sample_rate: int) -> list[np.ndarray]:
    """Stand-in for timidity: deterministic noise per stem, louder with more notes, silent without parts."""
    out = []
    for duration_s, parts in stems:
        notes = sum(len(p.notes) for p in parts)
        noise = np.random.default_rng(notes).standard_normal((2, round(duration_s * sample_rate)))
        out.append((noise * 0.01 * min(notes, 50)).astype(np.float32))
    return out


build = functools.partial(suite.build_suite, clip_seconds=CLIP_SECONDS, render_midi=fake_midi, progress=False)


@pytest.fixture(scope="module")
def pools(tmp_path_factory) -> Path:
    return _make_pools(tmp_path_factory.mktemp("pools"))


@pytest.fixture(scope="module")
def built(pools, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("suites") / "suite"
    build(pools, out, PER_CATEGORY, seed=2)
    return out


def test_layout_exact_sums_levels_and_manifest(built):
    manifest = json.loads((built / "suite.json").read_text())
    clips = manifest["clips"]
    assert sorted(p.name for p in built.iterdir()) == sorted([*suite.CATEGORIES, "suite.json"])
    assert [c["category"] for c in clips] == [c for c in suite.CATEGORIES for _ in range(PER_CATEGORY)]
    for clip in clips:
        folder = built / clip["path"]
        stems = {}
        for stem in ("vocals", "accompaniment", "mixture"):
            audio, rate = sf.read(str(folder / f"{stem}.wav"), dtype="float32", always_2d=True)
            assert rate == RATE and audio.shape == (round(CLIP_SECONDS * RATE), 2)
            assert sf.info(str(folder / f"{stem}.wav")).subtype == "PCM_24"
            stems[stem] = audio.T
        assert np.array_equal(stems["vocals"] + stems["accompaniment"], stems["mixture"])
        assert np.max(np.abs(stems["mixture"])) < 1.0
        mask = np.repeat(suite.active_frames(stems["vocals"].mean(axis=0), RATE), RATE // 10)
        ratio = 20 * np.log10(np.sqrt(np.mean(stems["vocals"][:, mask] ** 2))
                              / np.sqrt(np.mean(stems["accompaniment"][:, mask] ** 2)))
        assert ratio == pytest.approx(clip["vocal_to_accompaniment_db"], abs=0.02)
        assert suite.RATIO_DB[0] <= clip["vocal_to_accompaniment_db"] <= suite.RATIO_DB[1]
        assert clip["vocals"]["offset_seconds"] >= 1.5   # the window sits where the voice is active
        assert clip["vocals"]["source"] != "short" and clip["vocals"]["item"] != "undeclared"
    by_category = {cat: [c for c in clips if c["category"] == cat] for cat in suite.CATEGORIES}
    assert {c["vocals"]["category"] for c in by_category["sung"]} == {"sung"}
    assert {c["vocals"]["category"] for c in by_category["synthetic-speech"]} == {"synthetic-speech"}
    assert {c["vocals"]["category"] for c in by_category["real-speech-midi"]} == {"real-speech"}
    assert {c["accompaniment"]["category"] for c in by_category["real-speech-midi"]} == {"midi"}
    assert {c["accompaniment"]["category"] for c in by_category["real-music"]} == {"real-music"}
    assert {c["accompaniment"]["category"] for c in by_category["sung"]} == {"midi", "real-music"}
    assert {c["vocals"]["category"] for c in by_category["real-music"]} == {"sung", "synthetic-speech"}
    sources = {s["name"]: s for s in manifest["sources"]}
    assert set(sources) == {"talk", "tts", "sing", "band", suite.MIDI_SOURCE["name"]}
    assert all(s["split"] == "heldout" and s["licence"] for s in sources.values())


def test_same_seed_same_bytes_other_seed_other_clips(pools, built, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    build(pools, again, PER_CATEGORY, seed=2)
    build(pools, other, 1, seed=3)
    files = sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((built / f).read_bytes() == (again / f).read_bytes() for f in files)
    first = "sung/sung-000/mixture.wav"
    assert (built / first).read_bytes() != (other / first).read_bytes()
    assert not list(tmp_path.glob(".*"))  # no temporary folder left behind
    with pytest.raises(AudioFileError, match="never overwritten"):
        build(pools, again, PER_CATEGORY, seed=2)


def test_refuses_a_training_source_and_names_a_missing_category(pools, tmp_path, capsys):
    tainted = tmp_path / "tainted"
    shutil.copytree(pools, tainted)
    meta_path = tainted / "accompaniment" / "band" / "source.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "split": "train"}))
    with pytest.raises(AudioDataError, match="split is 'train', expected 'heldout'"):
        build(tainted, tmp_path / "out", 1)
    assert not (tmp_path / "out").exists()
    no_sung = _make_pools(tmp_path / "no-sung", with_sung=False)
    shutil.rmtree(no_sung / "vocals" / "short")
    with pytest.raises(AudioFileError, match="category 'sung' needs a held-out vocals source"):
        build(no_sung, tmp_path / "out", 1)
    assert suite.main(["--pools", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "does not exist" in error and "--pools" in error


@pytest.mark.skipif(shutil.which("timidity") is None or not suite.FREEPATS_CFG.is_file(),
                    reason="needs timidity and freepats (apt-get install timidity freepats)")
def test_freepats_render_uses_only_freepats(tmp_path):
    arrangement = suite.compose(np.random.default_rng(3), 2.0)
    stems = [(2.0, arrangement.parts[s]) for s in suite.MIDI_STEMS]
    rendered = suite.render_freepats(stems, RATE)
    assert [a.shape for a in rendered] == [(2, 2 * RATE)] * 3
    assert any(np.max(np.abs(a)) > 1e-3 for a in rendered)
    tones, drums = suite.freepats_programs()
    mapped = [suite.to_freepats(p, tones, drums) for _, parts in stems for p in parts]
    assert all(p.program == 0 and {n.pitch for n in p.notes} <= drums if p.is_drum else p.program in tones
               for p in mapped)
    if shutil.which("strace") is None:
        return
    # timidity also reads /etc/timidity/timidity.cfg (FluidR3_GM): no sample may come from another font
    midi = tmp_path / "a.mid"
    suite.write_segments_midi(str(midi), [(0.0, mapped)], 2.5)
    trace = tmp_path / "trace"
    subprocess.run(["strace", "-f", "-e", "trace=openat", "-o", str(trace), "timidity", "-c",
                    str(suite.FREEPATS_CFG), "-Ow", "-o", str(tmp_path / "a.wav"), str(midi)],
                   capture_output=True, check=True)
    opened = [line for line in trace.read_text().splitlines() if "ENOENT" not in line]
    assert not [line for line in opened if ".sf2" in line or ".sf3" in line]
    assert [line for line in opened if "/freepats/" in line and ".pat" in line]


def test_quality_reads_categories_and_aggregates_per_category(built):
    clips, skipped = quality.load_clips(built, clip_seconds=0.0)
    assert not skipped and len(clips) == 4 * PER_CATEGORY
    assert [c.category for c in clips] == [c.name.split("/")[0] for c in clips]

    def score(sdr: float) -> quality.ClipScore:
        return quality.ClipScore(sdr=sdr, si_sdr=sdr - 1.0, sir=0.0, sar=0.0, seconds=0.1)

    names = ["a/1", "a/2", "a/3", "b/1", "b/2"]
    categories = {"a/1": "sung", "a/2": "sung", "a/3": "sung", "b/1": "real-music", "b/2": "real-music"}
    sdrs = {"a/1": 1.0, "a/2": 5.0, "a/3": 2.0, "b/1": -4.0, "b/2": 0.0}
    results = quality.QualityResults(names, dict.fromkeys(names, 10.0),
                                     {"m": {c: score(v) for c, v in sdrs.items()}}, categories)
    assert results.median("m", "sdr") == 1.0
    assert results.median("m", "sdr", "sung") == 2.0 and results.median("m", "si_sdr", "sung") == 1.0
    assert results.median("m", "sdr", "real-music") == -2.0
    summary = results.category_summary()
    assert list(summary) == ["sung", "real-music"]
    assert summary["real-music"] == [{"method": "m", "sdr": -2.0, "si_sdr": -3.0, "clips": 2}]
    table = results.to_markdown()
    assert "| all (5) | sung (3) | real-music (2) |" in table
    assert "| m | 1.00 / 0.00 | 2.00 / 1.00 | -2.00 / -3.00 |" in table
    restored = quality.QualityResults.from_dict(json.loads(json.dumps(results.to_dict())))
    assert restored.categories == categories
    assert restored.merged_with(results).categories == categories


def test_paired_comparison_removes_clip_difficulty(tmp_path, capsys, monkeypatch):
    """A candidate 0.2 dB better on every clip wins them all, with an interval that excludes zero, even
    though clip difficulty (a 10 dB spread) hides the gain from the two medians taken apart."""
    paired = _load_script("paired_compare")
    rng = np.random.default_rng(1)
    difficulty = rng.uniform(-3.0, 7.0, 40)
    clips = [f"{'sung' if k % 2 else 'real-music'}/clip-{k:03d}" for k in range(40)]
    for name, offset in (("reference", 0.0), ("candidate", 0.2)):
        scores = {c: quality.ClipScore(float(d + offset + rng.normal(0, 0.02)), 0.0, 0.0, 0.0, 1.0)
                  for c, d in zip(clips, difficulty)}
        results = quality.QualityResults(clips, dict.fromkeys(clips, 10.0), {name: scores},
                                         {c: c.split("/")[0] for c in clips})
        (tmp_path / f"{name}.json").write_text(json.dumps(results.to_dict()))
    summary = paired.paired_summary(np.full(40, 0.2) + rng.normal(0, 0.02, 40), np.random.default_rng(0))
    assert summary["wins"] == 40 and 0.1 < summary["low_db"] <= summary["median_db"] <= summary["high_db"] < 0.3
    monkeypatch.setattr(sys, "argv", ["paired_compare", "--reference", str(tmp_path / "reference.json"),
                                      "--candidate", f"{tmp_path / 'candidate.json'}#candidate",
                                      "--out", str(tmp_path / "paired.md")])
    assert paired.main() == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| candidate | +"))
    assert "(40/40)" in row and "(20/20)" in row
    assert (tmp_path / "paired.md").read_text().count("| candidate") == 2  # header and row


def test_pooled_comparison_keeps_clip_sets_apart(tmp_path, capsys, monkeypatch):
    """Two clip sets that reuse clip names pool into one interval over all their clips, with the mean
    beside the median: 20 clips 0.3 dB better and 20 others 0.1 dB worse give 40 clips, 20 won."""
    paired = _load_script("paired_compare")
    clips = [f"sung/clip-{k:03d}" for k in range(20)]
    specs = []
    for suite, offset in (("suite", 0.3), ("dev", -0.1)):
        for name, shift in (("reference", 0.0), ("candidate", offset)):
            scores = {c: quality.ClipScore(float(k) + shift, 0.0, 0.0, 0.0, 1.0) for k, c in enumerate(clips)}
            results = quality.QualityResults(clips, dict.fromkeys(clips, 10.0), {name: scores},
                                             dict.fromkeys(clips, "sung"))
            (tmp_path / f"{suite}-{name}.json").write_text(json.dumps(results.to_dict()))
        specs += ["--pooled", str(tmp_path / f"{suite}-reference.json"), str(tmp_path / f"{suite}-candidate.json")]
    monkeypatch.setattr(sys, "argv", ["paired_compare", *specs, "--out", str(tmp_path / "pooled.md")])
    assert paired.main() == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("median ") and "(20/40)" in line and "mean +0.10" in line
    assert (tmp_path / "pooled.md").read_text().endswith(line + "\n")
