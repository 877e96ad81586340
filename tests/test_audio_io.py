"""Audio files: validation with typed one-line errors, chunked reading, atomic writing, resampling."""
from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
import soxr
from isovox.core.audio_io import (
    AtomicAudioWriter,
    StreamResampler,
    check_output_path,
    output_subtype,
    read_blocks,
    read_info,
    validate_audio,
)
from isovox.core.errors import AudioDataError, AudioFileError


def write(path, audio, rate=44100, **kwargs):
    sf.write(str(path), np.asarray(audio).T, rate, **kwargs)
    return path


@pytest.fixture()
def noise():
    return (np.random.default_rng(0).standard_normal((2, 20000)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_blocks_read_back_the_file(tmp_path, ext):
    t = np.arange(20000) / 44100
    tone = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]).astype(np.float32) * 0.3
    path = write(tmp_path / f"a.{ext}", tone)
    info = read_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (44100, 2, 20000)
    joined = np.concatenate(list(read_blocks(info, 3000)), axis=1)
    assert joined.shape == (2, 20000) and joined.dtype == np.float32
    tolerance = 0.05 if ext == "ogg" else 1e-4  # Vorbis is lossy
    assert np.abs(joined - tone).max() < tolerance


def test_missing_empty_folder_and_garbage_files_are_rejected(tmp_path):
    with pytest.raises(AudioFileError, match="does not exist"):
        read_info(tmp_path / "nope.wav")
    with pytest.raises(AudioFileError, match="not a file"):
        read_info(tmp_path)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty"):
        read_info(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("not audio at all " * 50)
    with pytest.raises(AudioFileError, match="cannot read"):
        read_info(tmp_path / "text.wav")


def test_unsupported_format(tmp_path, noise):
    path = write(tmp_path / "a.aiff", noise, format="AIFF")
    with pytest.raises(AudioFileError, match="WAV, FLAC and OGG"):
        read_info(path)


def test_truncated_wav_is_detected(tmp_path, noise):
    data = write(tmp_path / "a.wav", noise).read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:len(data) // 2])
    with pytest.raises(AudioFileError, match="truncated"):
        read_info(tmp_path / "cut.wav")


def test_corrupt_flac_fails_while_reading(tmp_path, noise):
    data = write(tmp_path / "a.flac", noise).read_bytes()
    (tmp_path / "bad.flac").write_bytes(data[:len(data) // 2])
    info = read_info(tmp_path / "bad.flac")
    with pytest.raises(AudioFileError, match="corrupt or truncated"):
        list(read_blocks(info, 4096))


def test_nonfinite_samples_are_counted_and_located(tmp_path, noise):
    noise[1, 7000] = np.nan
    noise[0, 9000:9003] = np.inf
    info = read_info(write(tmp_path / "nan.wav", noise, subtype="FLOAT"))
    with pytest.raises(AudioDataError, match=r"4 NaN/Inf samples, the first at sample 7000 .* channel 1"):
        list(read_blocks(info, 4096))
    with pytest.raises(AudioDataError, match=r"4 NaN/Inf samples, the first at sample 7000"):
        validate_audio(noise, 44100)


@pytest.mark.parametrize("channels, rate, message", [(9, 44100, "1 to 8"), (1, 4000, "8000"),
                                                      (1, 384000, "192000")])
def test_channel_count_and_rate_limits(tmp_path, channels, rate, message):
    path = write(tmp_path / "x.wav", np.zeros((channels, 1000), np.float32), rate)
    with pytest.raises(AudioDataError, match=message):
        read_info(path)


def test_array_validation():
    with pytest.raises(AudioDataError, match="channels, samples"):
        validate_audio(np.zeros(100, np.float32), 44100)
    with pytest.raises(AudioDataError, match="no samples"):
        validate_audio(np.zeros((2, 0), np.float32), 44100)
    with pytest.raises(AudioDataError, match="dtype"):
        validate_audio(np.zeros((2, 10), np.int16), 44100)
    audio = np.zeros((2, 10), np.float64)
    assert validate_audio(audio, 44100).dtype == np.float32


def test_output_path_checks(tmp_path, noise):
    source = write(tmp_path / "in.wav", noise)
    with pytest.raises(AudioFileError, match="never overwrites"):
        check_output_path(source, [source])
    os.symlink(source, tmp_path / "link.wav")
    with pytest.raises(AudioFileError, match="never overwrites"):
        check_output_path(tmp_path / "link.wav", [source])
    os.link(source, tmp_path / "hard.wav")
    with pytest.raises(AudioFileError, match="never overwrites"):
        check_output_path(tmp_path / "hard.wav", [source])
    with pytest.raises(AudioFileError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "out.wav", [source])
    with pytest.raises(AudioFileError, match="not supported"):
        check_output_path(tmp_path / "out.mp3", [source])
    assert check_output_path(tmp_path / "out.flac", [source]) == tmp_path / "out.flac"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_unwritable_output_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(AudioFileError, match="not writable"):
            check_output_path(folder / "out.wav")
    finally:
        folder.chmod(0o700)


def test_atomic_writer_leaves_nothing_on_error(tmp_path, noise):
    target = tmp_path / "out.wav"
    with pytest.raises(RuntimeError), AtomicAudioWriter(target, 44100, 2) as writer:
        writer.write(noise)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with AtomicAudioWriter(target, 44100, 2, "PCM_24") as writer:
        writer.write(noise * 20)  # clipped, not wrapped, in an integer format
        writer.commit()
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
    back, _ = sf.read(str(target), dtype="float32")
    assert sf.info(str(target)).subtype == "PCM_24" and np.abs(back).max() <= 1.0


def test_writing_into_a_missing_folder_is_a_typed_error(tmp_path):
    with pytest.raises(AudioFileError, match="cannot write"):
        AtomicAudioWriter(tmp_path / "no" / "out.wav", 44100, 1)


def test_output_subtype_follows_the_input_where_possible():
    assert output_subtype("WAV", "PCM_24") == "PCM_24"
    assert output_subtype("FLAC", "FLOAT") == "PCM_16"
    assert output_subtype("OGG", "PCM_16") == "VORBIS"


@pytest.mark.parametrize("rates", [(48000, 44100), (8000, 44100), (44100, 192000)])
def test_stream_resampler_equals_whole_signal_resampling(noise, rates):
    resampler = StreamResampler(*rates, channels=2)
    parts = [resampler.process(noise[:, i:i + 777]) for i in range(0, noise.shape[1], 777)]
    parts.append(resampler.process(np.zeros((2, 0), np.float32), last=True))
    whole = soxr.resample(noise.T, *rates).T
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-6)
    assert StreamResampler(44100, 44100, 2).process(noise) is noise
