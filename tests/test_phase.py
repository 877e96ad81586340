"""Griffin-Lim from the mixture phase: offline (best iterate) and block-wise (RTISI-LA style)."""
from __future__ import annotations

import numpy as np
import pytest
from isovox.core.errors import ConfigMismatchError
from isovox.core.phase import BlockGriffinLim, _spectral_convergence, griffin_lim
from isovox.core.stft import StftConfig, analyse, istft, stft, synthesise

CFG = StftConfig()


def inconsistency(spectrum: np.ndarray, cfg: StftConfig) -> np.ndarray:
    """Spectral convergence of a whole spectrogram (ch, bins, frames) → (ch,): 0 = consistent."""
    rebuilt = analyse(synthesise(spectrum, cfg), cfg, 0, spectrum.shape[-1])
    return _spectral_convergence(np.abs(rebuilt), np.abs(spectrum))


@pytest.fixture(scope="module")
def masked(music_like):
    """A deliberately inconsistent spectrogram: a random mask applied to the mixture."""
    audio, _ = music_like
    mixture = stft(audio[:, :44100], CFG)
    mask = np.random.default_rng(0).uniform(0, 1, mixture.shape).astype(np.float32)
    return mixture, mask * mixture


def test_starts_from_the_mixture_phase_and_never_ends_worse(masked):
    mixture, estimate = masked
    start = inconsistency(estimate, CFG)
    result, error = griffin_lim(np.abs(estimate), mixture, CFG, iterations=16, momentum=0.99)
    np.testing.assert_allclose(np.abs(result), np.abs(estimate), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(error, inconsistency(result, CFG), rtol=1e-4)
    assert np.all(error < start * 0.8)  # clearly more consistent than the mixture phase


def test_zero_iterations_returns_the_mixture_phase(masked):
    mixture, estimate = masked
    result, _ = griffin_lim(np.abs(estimate), mixture, CFG, iterations=0)
    np.testing.assert_allclose(result, estimate, rtol=1e-5, atol=1e-6)


def test_a_consistent_spectrogram_stays_put():
    audio = np.random.default_rng(0).standard_normal((1, 8192)).astype(np.float32)
    spectrum = stft(audio, CFG)
    result, error = griffin_lim(np.abs(spectrum), spectrum, CFG, iterations=4)
    assert error.max() < 1e-5
    np.testing.assert_allclose(istft(result, CFG, 8192), audio, atol=1e-4)


def test_fast_griffin_lim_converges_faster_than_classic(masked):
    mixture, estimate = masked
    _, classic = griffin_lim(np.abs(estimate), mixture, CFG, iterations=12, momentum=0.0)
    _, fast = griffin_lim(np.abs(estimate), mixture, CFG, iterations=12, momentum=0.99)
    assert np.all(fast < classic)


def test_block_griffin_lim_delays_and_is_independent_of_push_sizes(masked):
    _, estimate = masked
    frames = estimate[..., :40]
    whole = BlockGriffinLim(CFG, 2, lookahead_frames=3, iterations=4)
    assert whole.delay_frames == 3
    at_once = whole.push(frames)
    pieces = BlockGriffinLim(CFG, 2, lookahead_frames=3, iterations=4)
    one_by_one = np.concatenate([pieces.push(frames[..., i:i + 1]) for i in range(40)], axis=-1)
    np.testing.assert_allclose(at_once, one_by_one, atol=1e-6)
    assert np.all(at_once[..., :3] == 0)
    # committed frames keep the target magnitude and move towards consistency
    np.testing.assert_allclose(np.abs(at_once[..., 3:]), np.abs(frames[..., :37]), rtol=1e-4, atol=1e-6)
    assert np.all(inconsistency(at_once[..., 3:], CFG) < inconsistency(frames[..., :37], CFG))


def test_block_mode_commits_blocks():
    gl = BlockGriffinLim(CFG, 1, lookahead_frames=2, iterations=1, block_frames=4)
    assert gl.delay_frames == 5
    out = gl.push(np.ones((1, CFG.spectrum_bins, 9), np.complex64))
    assert out.shape == (1, CFG.spectrum_bins, 9)
    assert np.all(out[..., :5] == 0) and np.all(out[..., 5:] != 0)


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigMismatchError):
        BlockGriffinLim(CFG, 1, lookahead_frames=-1)
    with pytest.raises(ConfigMismatchError):
        griffin_lim(np.ones((1, 513, 2), np.float32), np.ones((1, 513, 2), np.complex64), CFG, momentum=1.0)
