"""Audio files: validation with typed one-line errors, chunked reading, atomic writing, resampling."""
from __future__ import annotations

import os
import warnings

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
    rescale_gain,
    validate_audio,
    warn_clipping,
)
from isovox.core.errors import AudioDataError, AudioFileError, ClippingWarning, ConfigMismatchError


def write(path, audio, rate=44100, **kwargs):
    sf.write(str(path), np.asarray(audio).T, rate, **kwargs)
    return path


@pytest.fixture()
def noise():
    return (np.random.default_rng(0).standard_normal((2, 20000)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "aiff", "aif"])
def test_blocks_read_back_the_file(tmp_path, ext):
    t = np.arange(20000) / 44100
    tone = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]).astype(np.float32) * 0.3
    path = tmp_path / f"a.{ext}"
    with AtomicAudioWriter(path, 44100, 2) as writer:   # the writer isovox uses, format from the extension
        writer.write(tone)
        writer.commit()
    info = read_info(path)
    assert (info.sample_rate, info.channels, info.samples) == (44100, 2, 20000)
    joined = np.concatenate(list(read_blocks(info, 3000)), axis=1)
    assert joined.shape == (2, 20000) and joined.dtype == np.float32
    tolerance = {"ogg": 0.05, "mp3": 0.05}.get(ext, 1e-4)  # Vorbis and MP3 are lossy
    assert np.abs(joined - tone).max() < tolerance


def test_extensible_and_64_bit_wav_variants_are_read(tmp_path, noise):
    for variant in ("WAVEX", "RF64", "W64"):
        info = read_info(write(tmp_path / f"{variant}.wav", noise, format=variant))
        assert (info.format, info.samples) == (variant, 20000)


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
    path = write(tmp_path / "a.au", noise, format="AU")
    with pytest.raises(AudioFileError, match="is AU audio; isovox reads WAV, FLAC, OGG, MP3 or AIFF .* "
                                             "ffmpeg -i .*a.au .*a.flac"):
        read_info(path)


@pytest.mark.parametrize("name, head", [("song.m4a", b"\x00\x00\x00\x1cftypM4A "),
                                        ("song.aac", b"\xff\xf1P@"),
                                        ("song.mystery", b"\x00\x00\x00\x20ftypisom")])
def test_m4a_and_aac_are_named_with_the_conversion(tmp_path, name, head):
    """Real M4A/AAC headers (as ffmpeg writes them): not 'corrupt', but a format to convert."""
    path = tmp_path / name
    path.write_bytes(head + bytes(4000))
    with pytest.raises(AudioFileError) as caught:
        read_info(path)
    message = str(caught.value)
    assert "is M4A/AAC audio, which isovox cannot read" in message and "corrupt" not in message
    assert message.endswith(f"convert it first: ffmpeg -i {path} {path.with_suffix('.wav')}")


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
        check_output_path(tmp_path / "out.m4a", [source])
    assert check_output_path(tmp_path / "out.flac", [source]) == tmp_path / "out.flac"
    assert check_output_path(tmp_path / "new" / "deeper" / "out.mp3", create_folder=True)
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(AudioFileError, match="is a file"):
        check_output_path(tmp_path / "afile" / "out.wav", create_folder=True)


@pytest.mark.parametrize("rate, channels", [(96000, 2), (44100, 6)])
def test_mp3_limits_are_checked_before_any_work(tmp_path, rate, channels):
    with pytest.raises(AudioFileError, match=f"MP3 holds 1 or 2 channels at 8–48 kHz, not {channels} "
                                             f"channels at {rate} Hz; write FLAC"):
        check_output_path(tmp_path / "out.mp3", [], rate, channels)
    assert check_output_path(tmp_path / "out.flac", [], rate, channels)


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
    assert output_subtype("FLAC", "FLOAT") == "PCM_24"           # float input keeps FLAC's 24 bits
    assert output_subtype("FLAC", "PCM_32") == "PCM_24"
    assert output_subtype("OGG", "PCM_16") == "VORBIS"
    assert output_subtype("WAV", "MPEG_LAYER_III") == "PCM_16"
    assert output_subtype("MP3", "FLOAT") == "MPEG_LAYER_III"
    assert output_subtype("AIFF", "FLOAT") == "FLOAT"


def test_bit_depth_overrides_and_is_refused_where_it_cannot_apply():
    assert [output_subtype("WAV", "PCM_16", depth) for depth in ("16", "24", "32f")] == ["PCM_16", "PCM_24",
                                                                                       "FLOAT"]
    assert output_subtype("FLAC", "FLOAT", "16") == "PCM_16"
    with pytest.raises(ConfigMismatchError, match="FLAC cannot store 32-bit float samples.*WAV or AIFF"):
        output_subtype("FLAC", "PCM_16", "32f")
    with pytest.raises(ConfigMismatchError, match="MP3 is lossy and has no bit depth"):
        output_subtype("MP3", "PCM_16", "24")
    with pytest.raises(ConfigMismatchError, match="not one of 16, 24, 32f"):
        output_subtype("WAV", "PCM_16", "8")


def _loud():
    """(2, 4000) with 3 samples beyond full scale, peak 2.0."""
    audio = np.full((2, 4000), 0.5, np.float32)
    audio[0, 10], audio[1, 20], audio[0, 30] = 1.5, -2.0, 1.25
    return audio


@pytest.mark.parametrize("ext, subtype, mode, peak_back", [
    ("wav", "PCM_24", None, 1.0), ("flac", "PCM_16", "clamp", 1.0), ("wav", "FLOAT", None, 2.0),
    ("wav", "FLOAT", "clamp", 1.0), ("wav", "PCM_16", "rescale", 1.0), ("wav", "FLOAT", "rescale", 1.0),
])
def test_writer_counts_and_handles_samples_beyond_full_scale(tmp_path, ext, subtype, mode, peak_back):
    audio = _loud()
    path = tmp_path / f"out.{ext}"
    with AtomicAudioWriter(path, 44100, 2, subtype, clip_mode=mode) as writer:
        for start in range(0, 4000, 1000):
            writer.write(audio[:, start:start + 1000])
        assert (writer.over_full_scale, writer.peak) == (3, 2.0)
        writer.commit(rescale_gain([writer]) if mode == "rescale" else 1.0)
    back, _ = sf.read(str(path), dtype="float32", always_2d=True)
    assert np.abs(back).max() == pytest.approx(peak_back, abs=1e-4)
    if mode == "rescale":                                   # scaled, not clipped: the shape is kept
        np.testing.assert_allclose(back.T, audio / 2.0, atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no stage or temp file left


def test_a_rescaled_file_failing_midway_leaves_nothing(tmp_path):
    target = tmp_path / "o.flac"
    with pytest.raises(RuntimeError), AtomicAudioWriter(target, 44100, 2, clip_mode="rescale") as writer:
        writer.write(_loud())
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_one_clipping_warning_counts_every_stem(tmp_path):
    audio = _loud()
    writers = []
    for name in ("vocals.wav", "accompaniment.wav"):
        writer = AtomicAudioWriter(tmp_path / name, 44100, 2, "PCM_16")
        writer.write(audio)
        writer.commit()
        writers.append(writer)
    with pytest.warns(ClippingWarning) as caught:
        warn_clipping(writers, "song.flac")
    assert len(caught) == 1
    assert str(caught[0].message) == ("song.flac: 6 samples beyond full scale clipped (3 in vocals.wav, 3 in "
                                      "accompaniment.wav); --clip-mode rescale or --bit-depth 32f keeps them")
    for ext, said in (("wav", "clipped"), ("ogg", "written unclipped")):   # integers saturate anyway
        kept = AtomicAudioWriter(tmp_path / f"kept.{ext}", 44100, 2, clip_mode="none")
        kept.write(audio)
        kept.commit()
        with pytest.warns(ClippingWarning, match=f"3 samples beyond full scale {said}"):
            warn_clipping([kept], "song.flac")
    floats = AtomicAudioWriter(tmp_path / "f.wav", 44100, 2, "FLOAT")
    floats.write(audio)
    floats.commit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_clipping([floats], "song.flac")                  # float output kept them: nothing to say


@pytest.mark.parametrize("rates", [(48000, 44100), (8000, 44100), (44100, 192000)])
def test_stream_resampler_equals_whole_signal_resampling(noise, rates):
    resampler = StreamResampler(*rates, channels=2)
    parts = [resampler.process(noise[:, i:i + 777]) for i in range(0, noise.shape[1], 777)]
    parts.append(resampler.process(np.zeros((2, 0), np.float32), last=True))
    whole = soxr.resample(noise.T, *rates).T
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-6)
    assert StreamResampler(44100, 44100, 2).process(noise) is noise
