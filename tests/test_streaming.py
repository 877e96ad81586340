"""StreamingSeparator: streamed output == offline output delayed by exactly latency_samples."""
from __future__ import annotations

import numpy as np
import pytest
from isovox.core.errors import AudioDataError, ConfigMismatchError
from isovox.host.separator import Separator
from isovox.host.streaming import StreamingSeparator
from separation_reference import reference_vocals


def stream(separator: StreamingSeparator, audio: np.ndarray, sizes, ringing_samples: int = 0) -> np.ndarray:
    """Feed `audio` followed by latency_samples of silence in blocks of `sizes` (an int or a cycle);
    return the output with the latency removed, aligned with `audio`. The output before the signal
    starts must be silent (but for `ringing_samples` just before it: a resampler's pre-ringing)."""
    latency = separator.latency_samples
    padded = np.concatenate([audio, np.zeros((audio.shape[0], latency), np.float32)], axis=1)
    sizes = [sizes] if isinstance(sizes, int) else list(sizes)
    out, position, i = [], 0, 0
    while position < padded.shape[1]:
        size = sizes[i % len(sizes)]
        block = padded[:, position:position + size]
        out.append(separator.process(block))
        assert out[-1].shape == block.shape and out[-1].dtype == np.float32
        position += block.shape[1]
        i += 1
    joined = np.concatenate(out, axis=1)
    assert np.all(np.abs(joined[:, :latency - ringing_samples]) < 1e-6)  # nothing before the signal starts
    return joined[:, latency:latency + audio.shape[1]]


@pytest.fixture(scope="module")
def clip(music_like):
    audio, _ = music_like
    return audio[:, 10000:10000 + 22050]  # 0.5 s stereo


@pytest.mark.parametrize("model_fixture, latency", [("tiny_model_path", 1023),
                                                    ("tiny_lookahead_model_path", 1023 + 2 * 512),
                                                    ("tiny_gru_model_path", 1023),
                                                    ("tiny_stereo_model_path", 1023)])
@pytest.mark.parametrize("sizes", [1, 32, 256, 333, 1000, 4096, (1, 700, 64, 4096, 5, 513, 2000)])
def test_stream_equals_offline_delayed(request, clip, model_fixture, latency, sizes):
    model_path = request.getfixturevalue(model_fixture)
    separator = StreamingSeparator(model_path, device="cpu", channels=2)
    assert separator.latency_samples == latency
    audio = clip if sizes != 1 else clip[:, :6000]  # one call per sample is slow in Python
    np.testing.assert_allclose(stream(separator, audio, sizes), reference_vocals(model_path, audio),
                               atol=2e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_stereo_model_streams_any_channel_count_exactly(tiny_stereo_model_path, clip, channels):
    """A stereo model on a mono or 3-channel stream: the lone channel goes in as a pair of copies,
    streamed exactly like offline, and the mono result is the left of the doubled stereo one."""
    audio = np.concatenate([clip, clip[:1] * 0.5])[:channels]
    separator = StreamingSeparator(tiny_stereo_model_path, device="cpu", channels=channels)
    streamed = stream(separator, audio, (1, 700, 64, 4096, 5, 513, 2000))
    np.testing.assert_allclose(streamed, reference_vocals(tiny_stereo_model_path, audio), atol=2e-6)
    if channels == 1:
        doubled = reference_vocals(tiny_stereo_model_path, np.concatenate([audio, audio]))
        np.testing.assert_allclose(streamed, doubled[:1], atol=2e-6)


@pytest.mark.parametrize("sizes", [256, 512, (1, 700, 64, 4096, 5, 513, 2000)])
def test_shipped_architecture_streams_exactly(shipped_architecture_model_path, clip, sizes):
    """Streaming equals offline for the architecture that ships (band split, skip mode…), not only a toy."""
    separator = StreamingSeparator(shipped_architecture_model_path, device="cpu", channels=2)
    assert separator.latency_samples == 1023
    np.testing.assert_allclose(stream(separator, clip, sizes),
                               reference_vocals(shipped_architecture_model_path, clip), atol=2e-6)


@pytest.mark.parametrize("model_fixture", ["tiny_model_path", "tiny_lookahead_model_path"])
@pytest.mark.parametrize("phase", ["mixture", "griffinlim"])
@pytest.mark.parametrize("position", [3000, 5123])
def test_impulse_comes_out_latency_samples_later(request, model_fixture, phase, position):
    """A real-valued mask filters each frame with zero phase, so an impulse's peak does not move:
    it leaves the stream exactly latency_samples after it went in (Griffin-Lim's look-ahead included)."""
    separator = StreamingSeparator(request.getfixturevalue(model_fixture), device="cpu", channels=1,
                                   phase=phase, griffinlim_lookahead_frames=3)
    audio = np.zeros((1, 12000), np.float32)
    audio[0, position] = 1.0
    out = np.concatenate([separator.process(audio[:, i:i + 100]) for i in range(0, 12000, 100)], axis=1)
    assert np.argmax(np.abs(out[0])) == position + separator.latency_samples


def test_stream_equals_separator_with_griffin_lim(tiny_model_path, clip):
    settings = {"griffinlim_iterations": 3, "griffinlim_lookahead_frames": 2}
    streaming = StreamingSeparator(tiny_model_path, device="cpu", phase="griffinlim", **settings)
    assert streaming.latency_samples == 1023 + 2 * 512
    offline = Separator(tiny_model_path, device="cpu", phase="griffinlim", griffinlim_block_frames=1,
                        griffinlim_momentum=0.0, **settings)
    np.testing.assert_allclose(stream(streaming, clip, (333, 1000)), offline.separate(clip, 44100),
                               atol=2e-6)


def test_nonfinite_block_becomes_silence_and_the_stream_recovers(tiny_model_path, clip):
    bad = clip.copy()
    bad[1, 5000:5100] = np.nan
    bad[0, 5050] = np.inf
    silenced = clip.copy()
    silenced[:, 5000:5100] = 0.0
    separator = StreamingSeparator(tiny_model_path, device="cpu")
    out = np.concatenate([separator.process(bad[:, i:i + 100]) for i in range(0, bad.shape[1], 100)], 1)
    assert separator.nonfinite_blocks == 1
    assert np.all(np.isfinite(out))
    separator.reset()
    assert separator.nonfinite_blocks == 0
    expected = np.concatenate([separator.process(silenced[:, i:i + 100])
                               for i in range(0, bad.shape[1], 100)], 1)
    np.testing.assert_array_equal(out, expected)


def test_reset_starts_a_new_stream(tiny_model_path, clip):
    separator = StreamingSeparator(tiny_model_path, device="cpu")
    first = separator.process(clip[:, :4000])
    separator.process(clip[:, 4000:5000])
    separator.reset()
    np.testing.assert_array_equal(separator.process(clip[:, :4000]), first)
    assert separator.samples_processed == 4000


def test_wrong_blocks_raise_clear_errors(tiny_model_path):
    separator = StreamingSeparator(tiny_model_path, device="cpu", channels=2, max_block_samples=1024)
    with pytest.raises(AudioDataError, match="channels"):
        separator.process(np.zeros((1, 256), np.float32))
    with pytest.raises(AudioDataError, match="channels"):
        separator.process(np.zeros((256, 2), np.float32))
    with pytest.raises(AudioDataError, match="max_block_samples"):
        separator.process(np.zeros((2, 1025), np.float32))
    with pytest.raises(AudioDataError):
        separator.process(np.zeros((2, 0), np.float32))
    with pytest.raises(AudioDataError, match="out must be"):
        separator.process(np.zeros((2, 64), np.float32), out=np.zeros((2, 65), np.float32))
    good = np.zeros((2, 64), np.float32)
    assert separator.process(np.ones((2, 64)), out=good) is good  # float64 in, float32 out


def test_unsupported_stream_shapes(tiny_model_path):
    with pytest.raises(AudioDataError, match="1 to 8"):
        StreamingSeparator(tiny_model_path, device="cpu", channels=9)
    with pytest.raises(AudioDataError, match="8000"):
        StreamingSeparator(tiny_model_path, device="cpu", sample_rate=4000, resample=True)


def test_sample_rate_mismatch_needs_resample(tiny_model_path):
    with pytest.raises(ConfigMismatchError, match="resample=True"):
        StreamingSeparator(tiny_model_path, device="cpu", sample_rate=48000)


@pytest.mark.parametrize("rate", [48000, 22050, 8000])
def test_resampled_stream_matches_the_offline_separator(tiny_model_path, clip, rate):
    import soxr

    audio = np.ascontiguousarray(soxr.resample(clip.T, 44100, rate).T)
    separator = StreamingSeparator(tiny_model_path, device="cpu", sample_rate=rate, resample=True)
    assert separator.sample_rate == rate
    streamed = stream(separator, audio, (100, 2048, 7), ringing_samples=300)
    offline = Separator(tiny_model_path, device="cpu").separate(audio, rate)
    # the same latency, exactly; what differs is the resamplers' interpolation of a shifted signal
    edge = rate // 20  # both ends of a cut clip ring differently through the two resamplers
    error = np.abs(streamed - offline)[:, edge:-edge]
    assert error.max() < 0.01 * np.abs(offline).max()


def test_low_latency_resampling_keeps_the_latency_exact_and_cuts_it(tiny_model_path, clip):
    """The live monitor's soxr "LQ" recipe: still offline separation (through the same LQ filters)
    delayed by exactly `latency_samples`, and ~28 ms less latency than "HQ" at 48 kHz."""
    import soxr

    audio = np.ascontiguousarray(soxr.resample(clip.T, 44100, 48000).T)
    high = StreamingSeparator(tiny_model_path, device="cpu", sample_rate=48000, resample=True)
    low = StreamingSeparator(tiny_model_path, device="cpu", sample_rate=48000, resample=True,
                             resample_quality="LQ")
    assert 1000 * (high.latency_samples - low.latency_samples) / 48000 > 25
    streamed = stream(low, audio, (100, 2048, 7), ringing_samples=300)
    at_model_rate = soxr.resample(audio.T, 48000, 44100, quality="LQ").T
    separated = Separator(tiny_model_path, device="cpu").separate(np.ascontiguousarray(at_model_rate), 44100)
    offline = soxr.resample(separated.T, 44100, 48000, quality="LQ").T[:, :audio.shape[1]]
    edge = 48000 // 20
    error = np.abs(streamed[:, :offline.shape[1]] - offline)[:, edge:-edge]
    assert error.max() < 0.01 * np.abs(offline).max()


def test_properties_and_counters(tiny_model_path):
    separator = StreamingSeparator(tiny_model_path, device="cpu", channels=3, deadline_fraction=1e-9)
    assert separator.channels == 3 and separator.sample_rate == 44100
    assert separator.provider == "CPUExecutionProvider"
    assert separator.model_metadata.stft.n_fft == 1024
    separator.process(np.zeros((3, 512), np.float32))
    assert separator.deadline_misses == 1  # nothing finishes in a nanosecond per second of audio
    assert separator.max_process_seconds > 0


def test_fixed_time_axis_model_is_refused_with_the_fix(fixed_frames_model_path):
    from isovox.core.errors import ModelError

    with pytest.raises(ModelError, match="--dynamic"):
        StreamingSeparator(fixed_frames_model_path, device="cpu")
