"""Separator: arrays and files, any rate and channel count, chunked == whole, formats."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf
from isovox.core.errors import AudioDataError, ConfigMismatchError
from isovox.export.onnx_run import separate_vocals
from isovox.host.model_file import open_model
from isovox.host.separator import Separator, stem_paths
from separation_reference import reference_vocals


@pytest.fixture(scope="module")
def separator(tiny_model_path):
    return Separator(tiny_model_path, device="cpu")


def test_matches_the_whole_signal_reference(tiny_lookahead_model_path, music_like):
    audio, rate = music_like
    separator = Separator(tiny_lookahead_model_path, device="cpu", chunk_frames=7)  # many chunks
    original = audio.copy()
    vocals = separator.separate(audio, rate)
    np.testing.assert_array_equal(audio, original)  # the input is not modified
    np.testing.assert_allclose(vocals, reference_vocals(tiny_lookahead_model_path, audio), atol=2e-6)
    assert np.abs(vocals).max() > 1e-3


@pytest.mark.parametrize("channels", range(1, 9))
def test_any_channel_count_keeps_shape(separator, channels):
    audio = np.random.default_rng(channels).uniform(-0.3, 0.3, (channels, 5000)).astype(np.float32)
    vocals = separator.separate(audio, 44100)
    assert vocals.shape == audio.shape and vocals.dtype == np.float32
    # each channel goes through the same mono model on its own
    np.testing.assert_allclose(vocals[-1:], separator.separate(audio[-1:], 44100), atol=2e-6)


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_a_stereo_model_separates_channel_pairs(tiny_stereo_model_path, channels):
    """A stereo model takes channels 1+2, 3+4, … together; a lone last channel goes in as a pair of copies."""
    separator = Separator(tiny_stereo_model_path, device="cpu")
    audio = np.random.default_rng(channels).uniform(-0.3, 0.3, (channels, 5000)).astype(np.float32)
    vocals = separator.separate(audio, 44100)
    assert vocals.shape == audio.shape and vocals.dtype == np.float32
    if channels >= 2:  # the first pair is separated as a stereo file of its own
        np.testing.assert_allclose(vocals[:2], separator.separate(audio[:2], 44100), atol=2e-6)
    if channels % 2:
        lone = np.repeat(audio[-1:], 2, axis=0)
        np.testing.assert_allclose(vocals[-1:], separator.separate(lone, 44100)[:1], atol=2e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000, 192000])
@pytest.mark.parametrize("length", [1, 700, 12345])
def test_any_rate_and_length_keeps_shape(separator, rate, length):
    t = np.arange(length) / rate
    audio = np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 500 * t)]).astype(np.float32) * 0.3
    vocals = separator.separate(audio, rate)
    assert vocals.shape == audio.shape and np.all(np.isfinite(vocals))


def test_silence_in_silence_out(separator):
    assert np.all(separator.separate(np.zeros((2, 30000), np.float32), 44100) == 0.0)


def test_samples_by_channels_is_accepted_where_it_cannot_be_confused(separator, music_like):
    audio, rate = music_like
    channels_first = separator.separate(audio[:, :20000], rate)
    samples_first = separator.separate(np.ascontiguousarray(audio[:, :20000].T), rate)
    assert samples_first.shape == (20000, 2) and samples_first.flags.c_contiguous
    np.testing.assert_array_equal(samples_first.T, channels_first)
    assert separator.separate(audio[:, :5], rate).shape == (2, 5)        # both axes ≤ 8: (channels, samples)
    with pytest.raises(AudioDataError, match=r"shape \(20000, 9\) has no axis of 1 to 8 channels.*audio\.T"):
        separator.separate(np.zeros((20000, 9), np.float32), rate)


def test_bad_arrays_are_rejected(separator):
    with pytest.raises(AudioDataError, match="NaN"):
        separator.separate(np.full((1, 100), np.nan, np.float32), 44100)
    with pytest.raises(AudioDataError, match="channels, samples"):
        separator.separate(np.zeros(100, np.float32), 44100)
    with pytest.raises(AudioDataError, match="sample rate"):
        separator.separate(np.zeros((1, 100), np.float32), 4000)


def test_progress_reports_seconds(separator, music_like):
    audio, rate = music_like
    seen = []
    separator.separate(audio, rate, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (pytest.approx(3.0), pytest.approx(3.0))
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


@pytest.mark.parametrize("in_ext, out_ext, subtype, expected_subtype", [
    ("wav", "wav", "PCM_24", "PCM_24"), ("flac", "flac", "PCM_16", "PCM_16"),
    ("ogg", "ogg", "VORBIS", "VORBIS"), ("wav", "flac", "FLOAT", "PCM_24"),
    ("flac", "wav", "PCM_24", "PCM_24"),
    ("mp3", "wav", "MPEG_LAYER_III", "PCM_16"), ("flac", "mp3", "PCM_16", "MPEG_LAYER_III"),
    ("aiff", "aiff", "PCM_24", "PCM_24"), ("wav", "aif", "FLOAT", "FLOAT"),
])
def test_files_in_each_format(separator, music_like, tmp_path, in_ext, out_ext, subtype, expected_subtype):
    audio, _ = music_like
    source = tmp_path / f"in.{in_ext}"
    sf.write(str(source), audio.T, 48000, subtype=subtype)  # not the model's rate: resampled both ways
    before = source.read_bytes()
    written = separator.separate_file(source, tmp_path / f"out.{out_ext}", stems=("vocals", "accompaniment"),
                                      progress=False)
    assert source.read_bytes() == before
    assert set(written) == {"vocals", "accompaniment"}
    for path in written.values():
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (48000, 2, audio.shape[1],
                                                                               expected_subtype)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"in.{in_ext}", f"out.{out_ext}", f"out.accompaniment.{out_ext}"])  # no temp files left


def test_chunked_file_equals_in_memory(separator, music_like, tmp_path):
    audio, _ = music_like
    for file_rate in (44100, 22050):
        source = tmp_path / f"in{file_rate}.wav"
        sf.write(str(source), audio.T, file_rate, subtype="FLOAT")
        written = separator.separate_file(source, tmp_path / f"out{file_rate}.wav",
                                          stems=("vocals", "accompaniment"), progress=False)
        vocals, _ = sf.read(str(written["vocals"]), dtype="float32")
        accompaniment, _ = sf.read(str(written["accompaniment"]), dtype="float32")
        in_memory = separator.separate(audio, file_rate)
        np.testing.assert_allclose(vocals.T, in_memory, atol=1e-6)
        np.testing.assert_allclose(accompaniment.T, audio - in_memory, atol=1e-6)


def test_griffin_lim_phase_offline(tiny_model_path, music_like):
    audio, rate = music_like
    separator = Separator(tiny_model_path, device="cpu", phase="griffinlim", griffinlim_iterations=4,
                          griffinlim_block_frames=32, griffinlim_lookahead_frames=4)
    vocals = separator.separate(audio[:, :30000], rate)
    mixture_phase = Separator(tiny_model_path, device="cpu").separate(audio[:, :30000], rate)
    assert vocals.shape == (2, 30000) and np.all(np.isfinite(vocals))
    assert 0 < np.abs(vocals - mixture_phase).max() < np.abs(mixture_phase).max()


def test_properties_and_settings(tiny_model_path, separator):
    assert separator.provider == "CPUExecutionProvider"
    assert separator.metadata.stft.sample_rate == 44100
    with pytest.raises(ConfigMismatchError, match="phase"):
        Separator(tiny_model_path, device="cpu", phase="random")


def test_stem_paths():
    paths = stem_paths("dir/song.vocals.flac", ["vocals", "accompaniment"])
    assert [str(p) for p in paths.values()] == ["dir/song.vocals.flac", "dir/song.vocals.accompaniment.flac"]
    assert str(stem_paths("x.wav", ["accompaniment"])["accompaniment"]) == "x.wav"
    for bad in ([], ["drums"], ["vocals", "vocals"]):
        with pytest.raises(ConfigMismatchError):
            stem_paths("x.wav", bad)


def _peak_traced_bytes(separator, source, out, stems) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        separator.separate_file(source, out, stems=stems, progress=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _noise_file(path, seconds: int):
    with sf.SoundFile(str(path), "w", 44100, 2, subtype="PCM_16") as handle:
        for second in range(seconds):
            handle.write(np.random.default_rng(second).uniform(-0.3, 0.3, (44100, 2)).astype(np.float32))
    return path


def test_vocals_only_memory_does_not_grow_with_length(separator, tmp_path):
    """The default stems (vocals) keep no copy of the input: the peak of numpy's buffers (tracemalloc
    sees them) is the same for 8 s and 40 s. Before, every input block was kept for an accompaniment
    nobody asked for: 40 s of stereo float32 is 14 MB more."""
    peaks = [_peak_traced_bytes(separator, _noise_file(tmp_path / f"in{seconds}.flac", seconds),
                                tmp_path / f"v{seconds}.wav", ("vocals",)) for seconds in (8, 40)]
    assert peaks[1] < peaks[0] + 2_000_000, peaks       # 32 s more audio: 11 MB more if it were kept
    assert peaks[1] < 1.1 * peaks[0], peaks


@pytest.mark.slow
def test_file_memory_does_not_grow_with_length(separator, tmp_path):
    """Peak numpy memory (tracemalloc sees numpy's buffers) of separate_file is the same for a 20 s
    and an 80 s file: the file is streamed in chunks, never loaded whole."""
    import tracemalloc

    peaks = []
    for seconds in (20, 80):
        source = tmp_path / f"long{seconds}.flac"
        with sf.SoundFile(str(source), "w", 44100, 2) as handle:
            for _ in range(seconds):
                handle.write(np.random.default_rng(seconds).uniform(-0.3, 0.3, (44100, 2)).astype(np.float32))
        tracemalloc.start()
        separator.separate_file(source, tmp_path / f"out{seconds}.flac", stems=("vocals", "accompaniment"),
                                progress=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.1 * peaks[0], peaks  # 4× the audio, the same peak


def test_a_stereo_model_runs_the_spatial_wiener_filter_like_the_reference(tiny_stereo_model_path, music_like):
    """The runtime's chunked filter equals the whole-signal reference, on and off (`core.spatial_wiener`)."""
    audio, rate = music_like
    loaded = open_model(tiny_stereo_model_path, "cpu")
    for on in (True, False):
        vocals = Separator(tiny_stereo_model_path, device="cpu", spatial_wiener=on).separate(audio, rate)
        np.testing.assert_allclose(vocals, separate_vocals(loaded, audio, spatial_wiener=on), atol=2e-6)
