"""Ramps, the dry delay line and the dry/wet mixer: exact delays, exact ramps, no clicks."""
from __future__ import annotations

import numpy as np
import pytest
from isovox.core.errors import AudioDataError
from isovox.host.smoothing import DelayLine, DryWetMixer, LinearRamp


def _blocks(total: int, sizes: list[int]):
    start, i = 0, 0
    while start < total:
        size = min(sizes[i % len(sizes)], total - start)
        yield start, start + size
        start, i = start + size, i + 1


@pytest.mark.parametrize("delay", [0, 1, 511, 1023])
@pytest.mark.parametrize("sizes", [[1], [64], [333, 7, 512]])
def test_delay_line_delays_exactly(delay, sizes):
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((2, 5000)).astype(np.float32)
    line = DelayLine(2, delay, max_block_samples=512)
    out = np.empty_like(signal)
    for a, b in _blocks(signal.shape[1], sizes):
        line.process(signal[:, a:b], out[:, a:b])
    expected = np.concatenate([np.zeros((2, delay), np.float32), signal], axis=1)[:, :signal.shape[1]]
    np.testing.assert_array_equal(out, expected)


def test_delay_line_refuses_oversized_block():
    with pytest.raises(AudioDataError, match="max_block_samples"):
        DelayLine(1, 10, 16).process(np.zeros((1, 17), np.float32), np.zeros((1, 17), np.float32))


def test_ramp_is_linear_and_retargets_mid_ramp():
    ramp = LinearRamp(0.0, ramp_samples=100, max_block_samples=256)
    ramp.set_target(1.0)
    gains = np.empty(150)
    for a, b in _blocks(150, [64, 13]):
        ramp.fill(gains[a:b])
    np.testing.assert_allclose(gains[:100], np.arange(1, 101) / 100, atol=1e-12)
    assert np.all(gains[100:] == 1.0) and ramp.settled
    ramp.set_target(0.5)
    half = np.empty(30)
    ramp.fill(half)
    ramp.set_target(1.0)            # reverse mid-ramp: starts from the value reached, no jump
    rest = np.empty(200)
    ramp.fill(rest)
    assert abs(rest[0] - half[-1]) < 0.5 / 100 + 1e-12
    assert rest[-1] == 1.0


def test_mixer_bypass_and_sweep_on_a_sine_never_click():
    """A sine through a mixer whose bypass flips and wet sweeps every few blocks: no jump beyond the signals'."""
    sample_rate, latency, block = 44100, 1023, 128
    t = np.arange(sample_rate) / sample_rate
    dry = np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
    wet_full = np.stack([0.3 * np.sin(2 * np.pi * 440 * (t - latency / sample_rate) + 0.4)] * 2).astype(np.float32)
    mixer = DryWetMixer(2, latency, block, ramp_samples=int(0.005 * sample_rate))
    out = np.empty_like(dry)
    for i, (a, b) in enumerate(_blocks(dry.shape[1], [block])):
        if i % 20 == 5:
            mixer.bypass = not mixer.bypass
        if i % 7 == 3:
            mixer.wet = (i % 11) / 10
        mixer.process(dry[:, a:b], wet_full[:, a:b], out[:, a:b])
    own_jump = max(np.abs(np.diff(dry)).max(), np.abs(np.diff(wet_full)).max())
    assert np.abs(np.diff(out[:, latency:])).max() <= own_jump * 1.05
    # the same sequence with instant switches (ramp of one sample) does click: the check can fail
    mixer = DryWetMixer(2, latency, block, ramp_samples=1)
    for i, (a, b) in enumerate(_blocks(dry.shape[1], [block])):
        if i % 20 == 5:
            mixer.bypass = not mixer.bypass
        mixer.process(dry[:, a:b], wet_full[:, a:b], out[:, a:b])
    assert np.abs(np.diff(out[:, latency:])).max() > own_jump * 1.5


def test_mixer_bypass_is_the_delayed_dry_exactly():
    rng = np.random.default_rng(2)
    dry = rng.standard_normal((2, 3000)).astype(np.float32)
    mixer = DryWetMixer(2, 700, 256, ramp_samples=10, bypass=True)
    mixer.reset()
    out = np.empty_like(dry)
    for a, b in _blocks(3000, [256, 100]):
        mixer.process(dry[:, a:b], np.zeros((2, b - a), np.float32), out[:, a:b])
    np.testing.assert_array_equal(out[:, 700:], dry[:, :-700])
    assert not out[:, :700].any()


def test_wet_out_of_range_is_refused():
    with pytest.raises(AudioDataError, match="wet is 1.5"):
        DryWetMixer(2, 0, 16, 4, wet=1.5)
