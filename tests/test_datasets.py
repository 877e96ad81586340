"""Loaders for every supported layout, alignment of seed pairs, augmentation, clear errors."""
from __future__ import annotations

import dataclasses
import itertools
import os
import time
import warnings

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")

from isovox.core.errors import AudioDataError, AudioFileError
from isovox.training.datasets import (
    AlignedPairTrack,
    AlignmentWarning,
    Augmentation,
    CropDataset,
    IncompleteTrackWarning,
    StemTrack,
    TrackScanner,
    read_crop,
    validation_clips,
)
from isovox.training.decoded_cache import DecodedCache
from synthetic_stems import SAMPLE_RATE, voice_and_band, write_musdb


def test_musdb_layout_sums_accompaniment_stems(tmp_path):
    write_musdb(tmp_path, 2, 1.0, "train")
    write_musdb(tmp_path, 1, 1.0, "test", seed=5)
    train = TrackScanner(tmp_path, split="train").scan()
    assert [t.name for t in train] == ["track00", "track01"]
    assert len(TrackScanner(tmp_path).scan()) == 3  # no split asked: both splits
    track = train[0]
    assert isinstance(track, StemTrack) and len(track.accompaniment) == 3
    vocals, accompaniment = track.read(1000, 4096)
    mixture = sf.read(tmp_path / "train" / "track00" / "mixture.wav", start=1000, frames=4096,
                      dtype="float32")[0].T
    np.testing.assert_allclose(vocals + accompaniment, mixture, atol=1e-6)


def test_read_crop_pads_outside_the_file_and_duplicates_mono(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, np.arange(1, 101, dtype=np.float32) / 100, SAMPLE_RATE, subtype="FLOAT")
    crop = read_crop(path, -10, 120)
    assert crop.shape == (2, 120)
    np.testing.assert_array_equal(crop[0], crop[1])
    assert np.all(crop[:, :10] == 0) and np.all(crop[:, 110:] == 0) and crop[0, 10] == pytest.approx(0.01)


def test_vocals_accompaniment_folders(tmp_path):
    vocals, band = voice_and_band(1.0, 0)
    folder = tmp_path / "song"
    folder.mkdir()
    sf.write(folder / "vocals.flac", vocals.T, SAMPLE_RATE)
    sf.write(folder / "accompaniment.wav", band.T, SAMPLE_RATE, subtype="FLOAT")
    (track,) = TrackScanner(tmp_path).scan()
    assert track.accompaniment == (folder / "accompaniment.wav",)
    got_vocals, got_band = track.read(0, 2048)
    np.testing.assert_allclose(got_band, band[:, :2048], atol=1e-6)
    np.testing.assert_allclose(got_vocals, vocals[:, :2048], atol=1e-4)  # 16-bit FLAC


def _seed_pair(folder, name, offset_samples, gain, seconds=6.0, seed=0):
    """Mix = band + vocals; the a cappella is the vocals shifted by `offset_samples` and scaled by 1/gain."""
    vocals, band = voice_and_band(seconds, seed)
    sf.write(folder / f"{name}.wav", (vocals + band).T, SAMPLE_RATE, subtype="FLOAT")
    if offset_samples >= 0:   # a cappella starts later in its file: leading silence
        acapella = np.concatenate([np.zeros((2, offset_samples), np.float32), vocals], axis=1)
    else:                     # a cappella trimmed at the start
        acapella = vocals[:, -offset_samples:]
    sf.write(folder / f"{name}.acapella.wav", (acapella / gain).T, SAMPLE_RATE, subtype="FLOAT")
    return vocals, band


@pytest.mark.parametrize("offset", [12345, -777])
def test_seed_pair_is_aligned(tmp_path, offset):
    vocals, band = _seed_pair(tmp_path, "song", offset, gain=0.5)
    (track,) = TrackScanner(tmp_path).scan()
    assert isinstance(track, AlignedPairTrack)
    assert track.alignment.offset_samples == -offset
    assert track.alignment.gain == pytest.approx(0.5, rel=1e-3)
    got_vocals, got_band = track.read(44100, 8192)
    # the least-squares gain absorbs the small vocals/band correlation: equal to ~0.1 % of full scale
    np.testing.assert_allclose(got_vocals, vocals[:, 44100:44100 + 8192], atol=1e-3)
    np.testing.assert_allclose(got_band, band[:, 44100:44100 + 8192], atol=1e-3)


def test_unalignable_pair_warns_and_is_skipped(tmp_path):
    _seed_pair(tmp_path, "good", 300, gain=1.0)
    vocals, band = voice_and_band(6.0, 1)
    sf.write(tmp_path / "bad.wav", (vocals + band).T, SAMPLE_RATE, subtype="FLOAT")
    other = np.random.default_rng(3).standard_normal((6 * SAMPLE_RATE, 2)).astype(np.float32) * 0.1
    sf.write(tmp_path / "bad.acapella.wav", other, SAMPLE_RATE, subtype="FLOAT")
    with pytest.warns(AlignmentWarning, match="bad.acapella.wav"):
        tracks = TrackScanner(tmp_path).scan()
    assert [t.name for t in tracks] == ["good"]


def test_corrupt_stem_error_names_the_file(tmp_path):
    write_musdb(tmp_path, 1, 0.5, "train")
    bad = tmp_path / "train" / "track00" / "bass.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(AudioFileError, match="bass.wav"):
        TrackScanner(tmp_path, split="train").scan()


def test_missing_stem_error_names_the_file(tmp_path):
    write_musdb(tmp_path, 1, 0.5, "train")
    (tmp_path / "train" / "track00" / "drums.wav").unlink()
    with pytest.raises(AudioFileError, match="drums.wav"):
        TrackScanner(tmp_path, split="train").scan()


def test_missing_vocals_error_names_the_file(tmp_path):
    write_musdb(tmp_path, 1, 0.5, None)
    (tmp_path / "track00" / "vocals.wav").unlink()
    with pytest.raises(AudioFileError, match="vocals.wav"):
        TrackScanner(tmp_path).scan()


def test_wrong_sample_rate_is_refused(tmp_path):
    write_musdb(tmp_path, 1, 0.5, "train")
    with pytest.raises(AudioDataError, match="48000 Hz"):
        TrackScanner(tmp_path, sample_rate=48000, split="train").scan()


def test_corpus_being_written_hidden_and_fresh_tracks_skipped(tmp_path):
    write_musdb(tmp_path, 2, 0.5, "train")
    (tmp_path / "train" / ".tmp-track02").mkdir()  # the corpus writer's temp folder
    old = time.time() - 60
    for path in (tmp_path / "train" / "track00").iterdir():
        os.utime(path, (old, old))
    (tmp_path / "train" / "track01" / "other.wav").unlink()
    scanner = TrackScanner(tmp_path, split="train", skip_incomplete=True)
    with pytest.warns(IncompleteTrackWarning, match="track01"):
        assert [t.name for t in scanner.scan()] == ["track00"]


def test_crops_are_deterministic_and_augmented(tmp_path):
    write_musdb(tmp_path, 3, 1.0, "train")
    tracks = TrackScanner(tmp_path, split="train").scan()
    dataset = CropDataset(tracks, 4096, 16, seed=1, epoch=2)
    vocals, band = dataset[3]
    assert vocals.shape == band.shape == (2, 4096)
    np.testing.assert_array_equal(vocals.numpy(), dataset[3][0].numpy())
    assert not np.array_equal(vocals.numpy(), CropDataset(tracks, 4096, 16, seed=1, epoch=3)[3][0].numpy())
    plain = CropDataset(tracks, 4096, 16, seed=1, epoch=2, augmentation=Augmentation.none())
    swapped = CropDataset(tracks, 4096, 16, seed=1, epoch=2,
                          augmentation=Augmentation((0.0, 0.0), 1.0, 0.0))
    v_plain, v_swapped = plain[5][0].numpy(), swapped[5][0].numpy()
    np.testing.assert_array_equal(v_plain[::-1], v_swapped)
    gained = CropDataset(tracks, 4096, 16, seed=1, epoch=2, augmentation=Augmentation((-6.0, -6.0), 0.0, 0.0))
    np.testing.assert_allclose(gained[5][0].numpy(), v_plain * 10 ** (-6 / 20), rtol=1e-5)
    with pytest.raises(IndexError):
        dataset[16]


def test_validation_clip_is_the_loudest_vocal_window(tmp_path):
    write_musdb(tmp_path, 1, 4.0, "test")
    vocals_path = tmp_path / "test" / "track00" / "vocals.wav"
    data, _ = sf.read(vocals_path, dtype="float32")
    data[:] = 0.0
    data[2 * SAMPLE_RATE:3 * SAMPLE_RATE] = 0.5  # vocals only in the third second
    sf.write(vocals_path, data, SAMPLE_RATE, subtype="FLOAT")
    (clip,) = validation_clips(TrackScanner(tmp_path).scan(), 1.0, 4, SAMPLE_RATE)
    assert clip.vocals.shape == (2, SAMPLE_RATE)
    np.testing.assert_allclose(clip.vocals, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(clip.mixture, clip.vocals + clip.accompaniment)


def test_validation_passes_over_instrumental_tracks(tmp_path):
    write_musdb(tmp_path, 3, 2.0, "test")
    silent = tmp_path / "test" / "track00" / "vocals.wav"
    sf.write(silent, np.zeros((2 * SAMPLE_RATE, 2), np.float32), SAMPLE_RATE, subtype="FLOAT")
    clips = validation_clips(TrackScanner(tmp_path).scan(), 1.0, 2, SAMPLE_RATE)
    assert [c.name for c in clips] == ["track01", "track02"]
    with pytest.raises(AudioDataError, match="silent vocals"):
        validation_clips(TrackScanner(tmp_path).scan()[:1], 1.0, 2, SAMPLE_RATE)


def _write_pool(root, role: str, source: str, files: int, seconds: float, split: str = "train", seed: int = 0):
    """A pools source folder: `files` FLACs (vocals mono, accompaniment stereo) and its source.json."""
    import json

    folder = root / role / source
    folder.mkdir(parents=True)
    for index in range(files):
        voice, band = voice_and_band(seconds, seed + index)
        audio = voice[0] if role == "vocals" else band.T
        sf.write(folder / f"{index:03d}.flac", audio, SAMPLE_RATE, subtype="PCM_16")
    (folder / "source.json").write_text(json.dumps({"name": source, "role": role, "split": split}))


def test_pools_mix_unpaired_stems_at_drawn_levels(tmp_path):
    _write_pool(tmp_path, "vocals", "speech", 3, 2.0)
    _write_pool(tmp_path, "vocals", "sung", 1, 2.0, seed=10)
    _write_pool(tmp_path, "accompaniment", "music", 2, 2.0, seed=20)
    tracks = TrackScanner(tmp_path, refuse_heldout=True).scan()
    assert sorted({(t.role, t.source) for t in tracks}) == [("accompaniment", "music"), ("vocals", "speech"),
                                                            ("vocals", "sung")]
    augmentation = Augmentation(swap_probability=0.0, silent_vocals_probability=0.0,
                                vocal_to_accompaniment_db=(-3.0, -3.0), mixture_rms_db=(-20.0, -20.0))
    dataset = CropDataset(tracks, 22050, 16, seed=1, augmentation=augmentation)
    for index in range(len(dataset)):
        vocals, accompaniment = (x.numpy() for x in dataset[index])
        assert vocals.shape == accompaniment.shape == (2, 22050)
        ratio_db = 20 * np.log10(np.sqrt(np.mean(vocals ** 2)) / np.sqrt(np.mean(accompaniment ** 2)))
        assert ratio_db == pytest.approx(-3.0, abs=0.5)  # effects change the vocal level a little
        mixture_rms_db = 20 * np.log10(np.sqrt(np.mean((vocals + accompaniment) ** 2)))
        assert mixture_rms_db <= -20.0 + 0.01 and np.max(np.abs(vocals + accompaniment)) < 1.0
    again = CropDataset(tracks, 22050, 16, seed=1, augmentation=augmentation)
    np.testing.assert_array_equal(dataset[5][0].numpy(), again[5][0].numpy())


def test_mastering_eq_changes_the_pool_music_tone_and_nothing_else(tmp_path):
    _write_pool(tmp_path, "vocals", "speech", 2, 2.0)
    _write_pool(tmp_path, "accompaniment", "music", 2, 2.0, seed=20)
    tracks = TrackScanner(tmp_path).scan()
    plain = Augmentation(vocal_to_accompaniment_db=(-3.0, -3.0), mixture_rms_db=(-20.0, -20.0))
    eq = dataclasses.replace(plain, accompaniment_eq_probability=1.0)
    for index in range(4):
        (v0, a0), (v1, a1) = ([x.numpy() for x in CropDataset(tracks, 22050, 4, seed=3, augmentation=aug)[index]]
                              for aug in (plain, eq))
        # the same vocals up to the level set against the (re-mastered) music
        np.testing.assert_allclose(v1 / np.sqrt(np.mean(v1 ** 2)), v0 / np.sqrt(np.mean(v0 ** 2)), atol=1e-4)
        edges = np.geomspace(50, 11000, 9).astype(int)  # 8 log-spaced bands of the 22050-bin spectrum
        bands_db = [10 * np.log10([np.sum(np.abs(np.fft.rfft(a.mean(axis=0)))[lo:hi] ** 2)
                                   for lo, hi in itertools.pairwise(edges)]) for a in (a0, a1)]
        tone_db = bands_db[1] - bands_db[0]
        assert np.ptp(tone_db) > 1.0  # another tone, not just another level
    np.testing.assert_array_equal(CropDataset(tracks, 22050, 4, seed=3, augmentation=eq)[2][1].numpy(),
                                  CropDataset(tracks, 22050, 4, seed=3, augmentation=eq)[2][1].numpy())


def test_varispeed_plays_like_tape():
    from isovox.training.corpus.mix import varispeed, varispeed_input_samples

    ratio = 2.0 ** (3 / 12)  # three semitones up: the pitch and the tempo rise together
    t = np.arange(varispeed_input_samples(SAMPLE_RATE, ratio)) / SAMPLE_RATE
    tone = np.stack([np.sin(2 * np.pi * 440.0 * t)] * 2).astype(np.float32)
    played = varispeed(tone, ratio, SAMPLE_RATE, SAMPLE_RATE)
    assert played.shape == (2, SAMPLE_RATE)
    spectrum = np.abs(np.fft.rfft(played[0] * np.hanning(SAMPLE_RATE)))
    assert np.argmax(spectrum) == pytest.approx(440.0 * ratio, abs=1.0)  # 1 Hz bins over one second
    assert np.sqrt(np.mean(played[0, 100:-100] ** 2)) == pytest.approx(np.sqrt(0.5), rel=0.01)


def test_accompaniment_variety_changes_only_the_drawn_accompaniment(tmp_path):
    _write_pool(tmp_path, "vocals", "speech", 2, 2.0)
    _write_pool(tmp_path, "accompaniment", "music", 3, 2.0, seed=20)
    tracks = TrackScanner(tmp_path).scan()
    plain = Augmentation(vocal_to_accompaniment_db=(-3.0, -3.0), mixture_rms_db=(-20.0, -20.0))
    off = dataclasses.replace(plain, accompaniment_speed_probability=0.0, accompaniment_layer_probability=0.0)
    speed = dataclasses.replace(plain, accompaniment_speed_probability=1.0)
    layers = dataclasses.replace(plain, accompaniment_layer_probability=1.0)
    for index in range(4):
        (v0, a0), (v_off, a_off), (v1, a1), (v2, a2) = (
            [x.numpy() for x in CropDataset(tracks, 22050, 4, seed=3, augmentation=aug)[index]]
            for aug in (plain, off, speed, layers))
        np.testing.assert_array_equal(np.stack([v_off, a_off]), np.stack([v0, a0]))  # off: the very same crops
        for v, a in ((v1, a1), (v2, a2)):
            # the same vocals up to the level set against the other accompaniment, which differs
            np.testing.assert_allclose(v / np.sqrt(np.mean(v ** 2)), v0 / np.sqrt(np.mean(v0 ** 2)), atol=1e-4)
            assert a.shape == a0.shape and np.isfinite(a).all()
            assert np.corrcoef(a.ravel(), a0.ravel())[0, 1] < 0.99
    np.testing.assert_array_equal(CropDataset(tracks, 22050, 4, seed=3, augmentation=layers)[1][1].numpy(),
                                  CropDataset(tracks, 22050, 4, seed=3, augmentation=layers)[1][1].numpy())


def test_pool_groups_are_drawn_uniformly_whatever_their_size(tmp_path):
    _write_pool(tmp_path, "vocals", "big", 6, 1.0)
    _write_pool(tmp_path, "vocals", "small", 1, 1.0, seed=10)
    _write_pool(tmp_path, "accompaniment", "music", 1, 1.0, seed=20)
    dataset = CropDataset(TrackScanner(tmp_path).scan(), 4410, 1)
    rng = np.random.default_rng(0)
    drawn = [dataset.vocal_groups.draw(rng).source for _ in range(2000)]
    assert drawn.count("small") / len(drawn) == pytest.approx(0.5, abs=0.05)


def test_heldout_pool_source_is_refused_for_training(tmp_path):
    _write_pool(tmp_path, "vocals", "reserved-speaker", 1, 1.0, split="heldout")
    _write_pool(tmp_path, "accompaniment", "music", 1, 1.0, seed=20)
    assert len(TrackScanner(tmp_path).scan()) == 2  # validation and benchmarks may read it
    with pytest.raises(AudioDataError, match="never trained on"):
        TrackScanner(tmp_path, refuse_heldout=True).scan()


def test_musdb_validation_tracks_come_from_train_never_test(tmp_path):
    from isovox.training.train import split_tracks

    write_musdb(tmp_path, 3, 1.0, "train")
    official = tmp_path / "train" / "Leaf - Summerghost"
    (tmp_path / "train" / min(os.listdir(tmp_path / "train"))).rename(official)
    write_musdb(tmp_path, 2, 1.0, "test", seed=30)
    scanner, valid = split_tracks((tmp_path,), 44100)
    assert [t.name for t in valid] == ["Leaf - Summerghost"]
    trained = {t.name for t in scanner.scan()}
    assert "Leaf - Summerghost" not in trained and len(trained) == 2
    assert all(str(t.vocals).startswith(str(tmp_path / "train")) for t in scanner.scan() + valid)


def test_the_held_out_track_hides_only_its_own_files_when_two_roots_share_a_name(tmp_path):
    from isovox.training.train import split_tracks

    write_musdb(tmp_path / "a", 2, 1.0, None)
    write_musdb(tmp_path / "b", 2, 1.0, None, seed=10)  # the same folder names: track00, track01
    scanner, (held_out,) = split_tracks((tmp_path / "a", tmp_path / "b"), 44100)
    trained = scanner.scan()
    assert held_out not in trained and len(trained) == 3
    assert sorted(t.name for t in trained) == ["track00", "track01", "track01"]


def test_tracks_grouped_in_category_folders_are_found(tmp_path):
    """The held-out suite's layout: SUITE/<category>/<clip>/{vocals,accompaniment}.wav."""
    for category, seed in (("sung", 0), ("real-music", 5)):
        for index in range(2):
            folder = tmp_path / category / f"clip{index}"
            folder.mkdir(parents=True)
            voice, band = voice_and_band(1.0, seed + index)
            sf.write(folder / "vocals.wav", voice.T, SAMPLE_RATE)
            sf.write(folder / "accompaniment.wav", band.T, SAMPLE_RATE)
    assert sorted(t.name for t in TrackScanner(tmp_path).scan()) == ["clip0", "clip0", "clip1", "clip1"]


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_decoded_cache_reads_the_same_samples_and_decodes_once(tmp_path, subtype):
    voice, band = voice_and_band(1.5, 3)
    source = tmp_path / f"song-{subtype}.flac"
    sf.write(source, (band + 0.3 * voice).T, SAMPLE_RATE, subtype=subtype)
    cache = DecodedCache(tmp_path / "cache")
    for start, count in [(0, 1000), (-300, 1000), (12345, 4096), (len(band[0]) - 100, 1000)]:
        np.testing.assert_array_equal(read_crop(source, start, count, cache), read_crop(source, start, count))
    (copy,) = (tmp_path / "cache").glob("*.npy")
    assert np.load(copy, mmap_mode="r").dtype == (np.int16 if subtype == "PCM_16" else np.float32)
    written = copy.stat().st_mtime_ns
    np.testing.assert_array_equal(read_crop(source, 500, 700, DecodedCache(tmp_path / "cache")),
                                  read_crop(source, 500, 700))
    assert copy.stat().st_mtime_ns == written  # a second process reuses the copy
    time.sleep(0.01)
    sf.write(source, band.T, SAMPLE_RATE, subtype=subtype)  # an edited source is decoded again
    np.testing.assert_array_equal(read_crop(source, 0, 900, DecodedCache(tmp_path / "cache")),
                                  read_crop(source, 0, 900))
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_decoded_cache_leaves_crops_unchanged(tmp_path):
    _write_pool(tmp_path, "vocals", "speech", 2, 2.0)
    _write_pool(tmp_path, "accompaniment", "music", 2, 2.0, seed=20)
    tracks = TrackScanner(tmp_path, refuse_heldout=True).scan()
    plain = CropDataset(tracks, 22050, 6, seed=4)
    cached = CropDataset(tracks, 22050, 6, seed=4, cache=DecodedCache(tmp_path / "cache"))
    for index in range(len(plain)):
        for a, b in zip(plain[index], cached[index]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 4
