"""Quality metrics against cases with known answers (real museval, no mocks)."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from isovox.core.errors import AudioDataError, ToolMissingError
from isovox.core.metrics import median_over_tracks, sdr_museval, si_sdr

SAMPLE_RATE = 44100


def _stems(seconds: float = 3.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    samples = int(seconds * SAMPLE_RATE)
    t = np.arange(samples) / SAMPLE_RATE
    vocals = np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 660 * t)]) * 0.3
    accompaniment = rng.standard_normal((2, samples)) * 0.1
    return vocals, accompaniment


def test_si_sdr_of_noise_at_known_snr():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((2, 200_000))
    noise = rng.standard_normal((2, 200_000))
    for snr_db in (-5.0, 0.0, 10.0, 30.0):
        scaled = noise * np.sqrt(np.sum(reference ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
        assert si_sdr(reference, reference + scaled) == pytest.approx(snr_db, abs=0.1)


def test_si_sdr_is_scale_invariant_and_perfect_for_scaled_copies():
    vocals, accompaniment = _stems()
    estimate = vocals + 0.2 * accompaniment
    assert si_sdr(vocals, 0.1 * estimate) == pytest.approx(si_sdr(vocals, estimate), abs=1e-9)
    assert si_sdr(vocals, 3.0 * vocals) > 100
    assert si_sdr(vocals[0], estimate[0]) == pytest.approx(si_sdr(vocals[:1], estimate[:1]))


def test_si_sdr_rejects_mismatched_shapes_and_silent_reference_is_nan():
    vocals, _ = _stems()
    with pytest.raises(AudioDataError, match="differ in shape"):
        si_sdr(vocals, vocals[:, :-1])
    assert np.isnan(si_sdr(np.zeros((2, 1000)), np.ones((2, 1000))))


def test_museval_sdr_identical_is_very_high_and_noise_at_known_level():
    vocals, accompaniment = _stems()
    mixture = vocals + accompaniment
    assert sdr_museval(vocals, vocals, SAMPLE_RATE, mixture=mixture).sdr > 100
    # an estimate leaking 1 % of the accompaniment's amplitude: SDR ≈ the energy ratio in dB
    leak = 0.01 * accompaniment
    scores = sdr_museval(vocals, vocals + leak, SAMPLE_RATE, mixture=mixture)
    expected = 10 * np.log10(np.sum(vocals ** 2) / np.sum(leak ** 2))
    assert scores.sdr == pytest.approx(expected, abs=1.0)
    assert len(scores.sdr_frames) == 3            # 1 s frames
    assert scores.sir > scores.sdr - 1.0          # the error is all interference


def test_museval_mixture_scores_about_the_vocals_to_accompaniment_ratio():
    vocals, accompaniment = _stems()
    mixture = vocals + accompaniment
    ratio_db = 10 * np.log10(np.sum(vocals ** 2) / np.sum(accompaniment ** 2))
    assert sdr_museval(vocals, mixture, SAMPLE_RATE, mixture=mixture).sdr == pytest.approx(ratio_db, abs=1.0)


def test_museval_ignores_silent_frames():
    vocals, accompaniment = _stems(4.0)
    vocals[:, :SAMPLE_RATE] = 0.0   # first second silent: museval scores it NaN
    scores = sdr_museval(vocals, vocals + 0.01 * accompaniment, SAMPLE_RATE, mixture=vocals + accompaniment)
    assert np.isnan(scores.sdr_frames[0]) and np.isfinite(scores.sdr)


def test_median_over_tracks_skips_nan():
    assert median_over_tracks([1.0, float("nan"), 3.0, 10.0]) == 3.0
    assert np.isnan(median_over_tracks([float("nan")]))


def test_missing_museval_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "museval", None)
    vocals, _ = _stems(1.0)
    with pytest.raises(ToolMissingError, match="pip install"):
        sdr_museval(vocals, vocals, SAMPLE_RATE)


def test_museval_rejects_an_all_zero_estimate_with_the_fix():
    vocals, accompaniment = _stems(1.0)
    with pytest.raises(AudioDataError, match="all zeros"):
        sdr_museval(vocals, np.zeros_like(vocals), SAMPLE_RATE, mixture=vocals + accompaniment)
