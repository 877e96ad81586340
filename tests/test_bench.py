"""`isovox bench` and the quality benchmark through the real runtime and a real (random) ONNX model."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile
from isovox.core.errors import AudioDataError, AudioFileError
from isovox.core.metrics import si_sdr
from isovox.host.bench import synthetic_mixture
from isovox.host.cli import main
from isovox.training.benchmark import quality

SAMPLE_RATE = 44100


def _write_corpus(root, music_like, tracks: int = 2):
    """A MUSDB18-HQ-layout folder: test/<track>/{mixture,vocals}.wav from the music-like signal."""
    mixture, sample_rate = music_like
    t = np.arange(mixture.shape[1]) / sample_rate
    for index in range(tracks):
        folder = root / "test" / f"track {index}"
        folder.mkdir(parents=True)
        vocals = np.stack([np.sin(2 * np.pi * (300 + 50 * index) * t) * (np.sin(2 * np.pi * t) > 0)] * 2) * 0.1
        soundfile.write(folder / "vocals.wav", vocals.T.astype(np.float32), sample_rate)
        soundfile.write(folder / "mixture.wav", (vocals + mixture).T.astype(np.float32), sample_rate)
    return root


def test_bench_json_schema_on_the_tiny_model(tiny_model_path, capsys):
    code = main(["bench", "--model", str(tiny_model_path), "--device", "cpu", "--json", "--seconds", "1.5",
                 "--block-sizes", "128,256,512,1024"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)  # exactly one JSON object on stdout
    assert report["provider"] == "CPUExecutionProvider"
    assert report["latency_samples"] == 1023 and report["latency_ms"] == pytest.approx(1023 / 44.1)
    assert set(report["blocks"]) == {"128", "256", "512", "1024"}
    for size, timing in report["blocks"].items():
        assert timing["block_samples"] == int(size)
        # 1.5 s timed after 1 s of warm-up
        assert timing["calls"] == int(2.5 * SAMPLE_RATE) // int(size) - int(np.ceil(SAMPLE_RATE / int(size)))
        assert 0 < timing["p50_ratio"] <= timing["p99_ratio"] <= timing["max_ratio"]
        assert 0 < timing["cpu_mean_ratio"] and timing["cpu_p50_ratio"] <= timing["cpu_p99_ratio"]
    assert 0 < report["offline_rtf"] < 10 and len(report["offline_rtf_runs"]) == 3
    assert report["peak_rss_mb"] >= report["peak_rss_streaming_mb"] > 10
    assert report["spatial_wiener"] is False  # a mono model: nothing to filter


def test_bench_can_time_a_stereo_model_without_the_spatial_wiener_filter(tiny_stereo_model_path, capsys):
    assert main(["bench", "--model", str(tiny_stereo_model_path), "--device", "cpu", "--seconds", "0.5",
                 "--block-sizes", "512", "--no-spatial-wiener"]) == 0
    assert "spatial Wiener filter off" in capsys.readouterr().out


def test_bench_rejects_bad_block_sizes(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--block-sizes", "128,abc"])
    assert "integers separated by commas" in capsys.readouterr().err


@pytest.mark.slow  # ~15 s: museval's two-source filters cost seconds per call whatever the clip length
def test_quality_streaming_matches_offline_and_oracle_beats_floor(tmp_path, tiny_model_path, music_like):
    root = _write_corpus(tmp_path / "corpus", music_like)
    tracks = quality.find_tracks(root)
    assert [t.name for t in tracks] == ["track 0", "track 1"]
    clip = quality.load_clip(tracks[1], root, clip_seconds=2.0)
    assert clip.name == "test/track 1" and clip.mixture.shape == (2, 2 * SAMPLE_RATE)
    methods = {quality.FLOOR: quality.mixture_floor, quality.ORACLE: quality.oracle_irm,
               "offline": quality.separator_method(tiny_model_path, "cpu"),
               "streaming": quality.streaming_method(tiny_model_path, "cpu", block_samples=333)}
    results = quality.evaluate([clip], methods, progress=False)
    # streaming, realigned by its latency, is the offline result
    offline, streaming = results.scores["offline"][clip.name], results.scores["streaming"][clip.name]
    assert streaming.sdr == pytest.approx(offline.sdr, abs=0.01)
    assert streaming.si_sdr == pytest.approx(offline.si_sdr, abs=0.01)
    assert results.median(quality.ORACLE, "sdr") > results.median(quality.FLOOR, "sdr") + 5
    assert np.isnan(results.gap_closed(quality.ORACLE))   # no REPET-SIM row to measure the gap from
    table = results.to_markdown()
    assert table.count("\n") == 1 + len(methods) and "gap closed" in table
    assert json.loads(json.dumps(results.to_dict()))["summary"][0]["method"] == quality.FLOOR


def test_repet_sim_removes_a_repeating_accompaniment():
    rng = np.random.default_rng(0)
    samples = 2 * SAMPLE_RATE   # 4 loops: enough repetition for the nearest-neighbour filter
    t = np.arange(samples) / SAMPLE_RATE
    loop = rng.standard_normal(SAMPLE_RATE // 2) * np.exp(-np.arange(SAMPLE_RATE // 2) / 3000)
    accompaniment = np.tile(loop, 8)[:samples] * 0.3
    glide = 300 + 200 * np.sin(2 * np.pi * 0.13 * t) + 100 * t   # never repeats
    vocals = np.stack([np.sin(2 * np.pi * np.cumsum(glide) / SAMPLE_RATE) * 0.2] * 2)
    mixture = vocals + np.stack([accompaniment, 0.8 * accompaniment])
    clip = quality.Clip("loop", SAMPLE_RATE, mixture.astype(np.float32), vocals.astype(np.float32), 0.0)
    estimate = quality.repet_sim(clip)
    assert estimate.shape == mixture.shape
    assert si_sdr(vocals, estimate) > si_sdr(vocals, mixture) + 1.5


def test_quality_external_estimates_and_missing_data(tmp_path, music_like):
    root = _write_corpus(tmp_path / "corpus", music_like, tracks=1)
    clip = quality.load_clip(quality.find_tracks(root)[0], root, clip_seconds=2.0)
    estimates = tmp_path / "estimates" / "test" / "track 0"
    estimates.mkdir(parents=True)
    full_vocals, _ = soundfile.read(root / "test" / "track 0" / "vocals.wav", dtype="float32")
    soundfile.write(estimates / "vocals.wav", full_vocals, SAMPLE_RATE)
    estimate = quality.external_method(tmp_path / "estimates")(clip)
    np.testing.assert_array_equal(estimate, clip.vocals)   # cut to the clip's own window
    with pytest.raises(AudioFileError, match="MUSDB18-HQ layout"):
        quality.find_tracks(tmp_path / "estimates" / "nothing-here")


def test_vocal_window_picks_the_loudest_vocals():
    vocals = np.zeros((2, 10 * SAMPLE_RATE), np.float32)
    vocals[:, 6 * SAMPLE_RATE:9 * SAMPLE_RATE] = 0.5
    assert quality.vocal_window(vocals, SAMPLE_RATE, 3.0) == 6 * SAMPLE_RATE
    assert synthetic_mixture(0.5, SAMPLE_RATE).shape == (2, SAMPLE_RATE // 2)


def test_quality_results_round_trip_json_and_merge():
    score = quality.ClipScore(sdr=4.0, si_sdr=3.0, sir=float("nan"), sar=5.0, seconds=1.0)
    oracle = quality.ClipScore(sdr=8.0, si_sdr=7.0, sir=9.0, sar=9.0, seconds=0.1)
    references = quality.QualityResults(["a"], {"a": 20.0}, {quality.REPET: {"a": score},
                                                             quality.ORACLE: {"a": oracle}})
    model = quality.QualityResults(["a"], {"a": 20.0}, {"model": {"a": quality.ClipScore(7.0, 6.0, 8.0, 9.0, 2.0)}})
    restored = quality.QualityResults.from_dict(json.loads(json.dumps(references.to_dict()).replace("NaN", "null")))
    merged = model.merged_with(restored)
    assert list(merged.scores) == [quality.REPET, quality.ORACLE, "model"]
    assert merged.gap_closed("model") == pytest.approx(0.75)
    assert merged.rtf("model") == pytest.approx(0.1)
    assert np.isnan(merged.scores[quality.REPET]["a"].sir)
    with pytest.raises(AudioDataError, match="other clips"):
        model.merged_with(quality.QualityResults(["b"], {"b": 20.0}, {}))


def test_peak_rss_is_this_process_not_an_inherited_parent_peak():
    """ru_maxrss survives fork + exec on Linux; the bench must report the child's own peak."""
    import subprocess
    import sys

    parent = np.ones(200_000_000 // 8)   # ~200 MB resident in this (parent) process
    parent += 1.0
    code = "from isovox.host.bench import peak_rss_mb; print(peak_rss_mb())"
    child_peak = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                      check=True).stdout)
    assert 5 < child_peak < 150


def test_model_output_matches_the_separator_and_baseline_method_runs(tiny_lookahead_model_path, music_like):
    """The quality hooks' direct model run (look-ahead compensated) equals the runtime's offline output."""
    from isovox.core.masks import apply_mask
    from isovox.core.stft import istft, stft
    from isovox.export.onnx_run import model_output
    from isovox.host.model_file import open_model
    from isovox.host.separator import Separator

    mixture, sample_rate = music_like
    mixture = mixture[:, :sample_rate]
    loaded = open_model(tiny_lookahead_model_path, "cpu")
    cfg = loaded.metadata.stft
    spectrum = stft(mixture, cfg)
    mask = model_output(loaded, spectrum)
    direct = istft(apply_mask(spectrum, mask), cfg, mixture.shape[1])
    expected = Separator(tiny_lookahead_model_path, "cpu").separate(mixture, sample_rate)
    np.testing.assert_allclose(direct, expected, atol=1e-4)
    clip = quality.Clip("c", sample_rate, mixture, 0.5 * mixture, 0.0)
    baseline_estimate = quality.baseline_method(tiny_lookahead_model_path, "cpu", iterations=2)(clip)
    assert baseline_estimate.shape == mixture.shape and np.all(np.isfinite(baseline_estimate))
