"""The STFT contract: causal framing, exact inverse."""
from __future__ import annotations

import numpy as np
import pytest
from isovox.core.errors import ConfigMismatchError
from isovox.core.stft import StftConfig, frame_signal, istft, stft


@pytest.mark.parametrize("cfg", [StftConfig(), StftConfig(sample_rate=16000, n_fft=512, hop_samples=128),
                                 StftConfig(n_fft=2048, hop_samples=1024)])
@pytest.mark.parametrize("num_samples", [1, 100, 1024, 44100 + 37])
def test_round_trip_is_exact(cfg, num_samples):
    audio = np.random.default_rng(num_samples).uniform(-1, 1, (2, num_samples)).astype(np.float32)
    rebuilt = istft(stft(audio, cfg), cfg, num_samples)
    assert rebuilt.shape == audio.shape
    assert np.max(np.abs(rebuilt - audio)) < 1e-6


def test_frames_are_causal():
    """Frame k covers samples [k*hop - (n_fft - hop), (k+1)*hop): an impulse at sample s appears
    first in frame s // hop and last in frame (s + n_fft - hop) // hop."""
    cfg = StftConfig()
    audio = np.zeros((1, 5000), np.float32)
    audio[0, 2000] = 1.0
    frames = frame_signal(audio, cfg)[0]
    hit = np.flatnonzero(np.abs(frames).sum(axis=1))
    assert hit[0] == (2000 + cfg.n_fft - cfg.hop_samples) // cfg.hop_samples - (cfg.n_fft // cfg.hop_samples - 1)
    assert hit[-1] == (2000 + cfg.n_fft - cfg.hop_samples) // cfg.hop_samples
    assert frames.shape[0] == cfg.num_frames(5000)


def test_spectrum_matches_a_direct_fft_of_the_windowed_frame():
    cfg = StftConfig()
    audio = np.random.default_rng(1).standard_normal((1, 4096)).astype(np.float32)
    k = 5
    start = k * cfg.hop_samples - (cfg.n_fft - cfg.hop_samples)
    direct = np.fft.rfft(audio[0, start:start + cfg.n_fft] * cfg.analysis_window)
    np.testing.assert_allclose(stft(audio, cfg)[0, :, k], direct, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n_fft, hop", [(1024, 1024), (1024, 0), (0, 512)])
def test_settings_without_half_overlap_are_refused(n_fft, hop):
    """hop == n_fft would make the synthesis window divide by zero (istft full of NaN)."""
    with pytest.raises(ConfigMismatchError, match="hop_samples"):
        StftConfig(n_fft=n_fft, hop_samples=hop)


def test_hop_of_half_the_window_is_the_largest_accepted():
    with pytest.raises(ConfigMismatchError, match="use hop_samples 512 or less"):
        StftConfig(n_fft=1024, hop_samples=1024)
    assert StftConfig(n_fft=1024, hop_samples=512).hop_samples == 512
