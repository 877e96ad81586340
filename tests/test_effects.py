"""VocalIsolator and Chain: pedalboard's calling convention, latency compensation, chunked == whole."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soxr
from isovox.core.errors import AudioDataError, AudioFileError, ConfigMismatchError
from isovox.host.effect_files import process_file, read_audio, write_audio
from isovox.host.effects import Chain, VocalIsolator
from isovox.host.separator import Separator
from pedalboard import Compressor, HighpassFilter, Pedalboard, Reverb


@pytest.fixture(scope="module")
def isolator(tiny_model_path):
    return VocalIsolator(model=tiny_model_path, device="cpu")


def test_whole_file_is_aligned_with_the_offline_separator(isolator, music_like, tiny_model_path):
    audio, rate = music_like
    offline = Separator(tiny_model_path, device="cpu").separate(audio, rate)
    isolator.wet, isolator.bypass = 1.0, False
    out = isolator(audio, rate)
    assert out.shape == audio.shape and out.dtype == np.float32
    whole_hops = audio.shape[1] // 512 * 512    # the offline Separator leaves the last partial hop silent
    np.testing.assert_allclose(out[:, :whole_hops], offline[:, :whole_hops], atol=1e-4)


@pytest.mark.parametrize("chunk", [256, 1000, 4096])
def test_streaming_chunks_are_the_whole_file_delayed_by_latency(isolator, music_like, chunk):
    audio, rate = music_like
    isolator.wet = 0.7
    whole = isolator(audio, rate)
    isolator.reset()
    streamed = np.concatenate([isolator(audio[:, i:i + chunk], rate, reset=False)
                               for i in range(0, audio.shape[1], chunk)], axis=1)
    latency = isolator.latency_samples
    assert latency == 1023
    np.testing.assert_allclose(streamed[:, latency:], whole[:, :-latency], atol=1e-4)
    isolator.wet = 1.0


def test_layouts_round_trip_and_square_is_refused(isolator, music_like):
    audio, rate = music_like
    first = isolator(audio[:, :5000], rate)
    last = isolator(np.ascontiguousarray(audio[:, :5000].T), rate)
    assert last.shape == (5000, 2)
    np.testing.assert_allclose(last.T, first, atol=1e-6)
    with pytest.raises(AudioDataError, match="ambiguous"):
        isolator(np.zeros((2, 2), np.float32), rate)
    with pytest.raises(AudioDataError, match="no axis of 2 channels"):
        isolator(np.zeros((3, 100), np.float32), rate)
    with pytest.raises(ConfigMismatchError, match="48000 Hz"):
        isolator(audio, 48000)


def test_dry_and_bypass_return_the_input_unshifted(isolator, music_like):
    audio, rate = music_like
    isolator.wet = 0.0
    np.testing.assert_allclose(isolator(audio, rate), audio, atol=1e-7)
    isolator.wet, isolator.bypass = 1.0, True
    np.testing.assert_allclose(isolator(audio, rate), audio, atol=1e-7)
    isolator.bypass = False


def test_flipping_bypass_and_sweeping_wet_on_a_sine_never_clicks(isolator):
    """Real separator on a sine; bypass flips and wet sweeps between 256-sample chunks."""
    rate = 44100
    t = np.arange(2 * rate) / rate
    sine = np.stack([0.5 * np.sin(2 * np.pi * 330 * t)] * 2).astype(np.float32)
    isolator.reset()
    wet_only = np.concatenate([isolator(sine[:, i:i + 256], rate, reset=False)
                               for i in range(0, sine.shape[1], 256)], axis=1)
    isolator.reset()
    chunks = []
    for k, i in enumerate(range(0, sine.shape[1], 256)):
        if k % 25 == 10:
            isolator.bypass = not isolator.bypass
        if k % 9 == 4:
            isolator.wet = (k % 13) / 12
        chunks.append(isolator(sine[:, i:i + 256], rate, reset=False))
    out = np.concatenate(chunks, axis=1)
    latency = isolator.latency_samples
    own = max(np.abs(np.diff(sine)).max(), np.abs(np.diff(wet_only[:, latency + 1024:])).max())
    assert np.abs(np.diff(out[:, latency + 1024:])).max() <= own * 1.05
    isolator.wet, isolator.bypass = 1.0, False


@pytest.mark.parametrize("chunk", [256, 1000, 4096])
def test_chain_with_pedalboard_plugins_whole_equals_chunked(isolator, music_like, chunk):
    audio, rate = music_like
    chain = Chain([HighpassFilter(100), isolator, Compressor(threshold_db=-20, ratio=4), Reverb(room_size=0.5)],
                  wet=0.8)
    whole = chain(audio, rate)
    assert whole.shape == audio.shape
    chain.reset()
    streamed = np.concatenate([chain(audio[:, i:i + chunk], rate, reset=False)
                               for i in range(0, audio.shape[1], chunk)], axis=1)
    latency = chain.latency_samples
    assert latency == isolator.latency_samples
    np.testing.assert_allclose(streamed[:, latency:], whole[:, :-latency], atol=2e-4)
    # the isovox stage really acts inside the chain: without it the result differs
    plain = Pedalboard([HighpassFilter(100), Compressor(threshold_db=-20, ratio=4), Reverb(room_size=0.5)])
    assert np.abs(plain(audio, rate) - whole).max() > 1e-2


def test_chain_is_a_list_with_bypass(isolator, music_like):
    audio, rate = music_like
    chain = Chain([isolator])
    chain.append(Reverb())
    assert len(chain) == 2 and isinstance(chain[1], Reverb)
    chain.bypass = True
    np.testing.assert_allclose(chain(audio, rate), audio, atol=1e-7)
    with pytest.raises(AudioDataError, match="wet is 2.0"):
        chain.wet = 2.0
    with pytest.raises(AudioDataError, match="wet is -0.5"):
        Chain([isolator], wet=-0.5)


def test_process_file_streams_and_compensates(isolator, music_like, tmp_path):
    audio, rate = music_like
    source = tmp_path / "in.wav"
    write_audio(source, audio, rate)
    chain = Chain([HighpassFilter(100), isolator])
    process_file(chain, source, tmp_path / "out.wav", chunk_samples=3000)
    written, written_rate = read_audio(tmp_path / "out.wav")
    assert written_rate == rate and written.shape == audio.shape
    np.testing.assert_allclose(written, chain(read_audio(source)[0], rate), atol=1e-4)
    with pytest.raises(AudioFileError, match="is the input"):
        process_file(chain, source, source)
    os.link(source, tmp_path / "hardlink.wav")
    with pytest.raises(AudioFileError, match="is the input"):
        process_file(chain, source, tmp_path / "hardlink.wav")
    with pytest.raises(AudioFileError, match="does not exist"):
        process_file(chain, tmp_path / "missing.wav", tmp_path / "x.wav")


def _resampled(audio, from_rate, to_rate):
    return np.ascontiguousarray(soxr.resample(audio.T, from_rate, to_rate, quality="HQ").T)


@pytest.mark.parametrize("channels", [2, 1])
def test_process_file_at_48k_resamples_in_and_out_to_the_exact_length(isolator, music_like, tmp_path,
                                                                       channels):
    """A Chain on a 48 kHz stereo file, and a bare VocalIsolator (stereo) on a mono one, write 48 kHz,
    the same channels and length: the effect runs at its 44.1 kHz, as on the whole resampled signal."""
    audio, _ = music_like
    audio = _resampled(audio, 44100, 48000)[:channels, :100_001]
    source = tmp_path / "in48k.wav"
    write_audio(source, audio, 48000, subtype="FLOAT")
    chain = Chain([HighpassFilter(100), isolator]) if channels == 2 else isolator
    assert chain.sample_rate == 44100
    assert process_file(chain, source, tmp_path / "out.wav", chunk_samples=7000) == 48000
    written, rate = read_audio(tmp_path / "out.wav")
    assert rate == 48000 and written.shape == audio.shape
    wide = np.repeat(audio, 2, axis=0) if channels == 1 else audio
    expected = _resampled(chain(_resampled(wide, 48000, 44100), 44100), 44100, 48000)
    expected = expected.mean(axis=0, keepdims=True) if channels == 1 else expected
    np.testing.assert_allclose(written[:, :-64], expected[:, :audio.shape[1] - 64], atol=2e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in48k.wav", "out.wav"]


def test_process_file_with_a_plain_plugin_and_a_square_last_chunk(tmp_path):
    """6002 stereo samples in chunks of 3000 end in a (2, 2) block, which pedalboard refuses as ambiguous."""
    noise = np.random.default_rng(3).uniform(-0.3, 0.3, (2, 6002)).astype(np.float32)
    write_audio(tmp_path / "in.wav", noise, 44100, subtype="FLOAT")
    process_file(Reverb(room_size=0.4), tmp_path / "in.wav", tmp_path / "out.wav", chunk_samples=3000)
    written, _ = read_audio(tmp_path / "out.wav")
    np.testing.assert_allclose(written, Reverb(room_size=0.4)(noise, 44100), atol=1e-6)


class _FailsOnSecondChunk:
    """A real effect object that breaks midway through a file, with an error of no isovox type."""

    def __init__(self):
        self.calls = 0

    def process(self, audio, sample_rate, reset=True):
        self.calls += 1
        if self.calls == 2:
            raise TypeError("an effect bug")
        return audio


def test_process_file_leaves_nothing_on_any_error(isolator, music_like, tmp_path):
    audio, rate = music_like
    source = tmp_path / "in.flac"
    write_audio(source, audio, rate)
    with pytest.raises(TypeError, match="an effect bug"):
        process_file(_FailsOnSecondChunk(), source, tmp_path / "out.wav", chunk_samples=4096)
    six = tmp_path / "six.wav"
    write_audio(six, np.zeros((6, 5000), np.float32), rate)
    with pytest.raises(AudioDataError, match="has 6 channels but the effect has 2; build it with channels=6"):
        process_file(Chain([isolator]), six, tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.flac", "six.wav"]   # no .partial file
