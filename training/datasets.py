"""Training data: finding tracks in the supported layouts, reading random crops, augmenting them.

Layouts (all at the model's sample rate, WAV or FLAC, mono or stereo):
- MUSDB18-HQ (and the built-in corpus): ``DIR/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav``
  (also ``DIR/<track>/…`` without the split folders); accompaniment = drums + bass + other.
- stem pairs: ``DIR/<track>/{vocals,accompaniment}.wav``.
- song + a cappella pairs: ``DIR/<name>.wav`` + ``DIR/<name>.acapella.wav``, aligned on scan (offset and gain
  by cross-correlation, `training.alignment`); a pair that cannot be aligned is skipped with a warning.
- stem pools (`isovox prepare-data`): ``DIR/{vocals,accompaniment}/<source>/*.flac`` with a
  ``source.json`` per source; unpaired files that `CropDataset` mixes at random (a vocal line from
  one source over music from another), at a drawn vocal-to-accompaniment ratio.

Crops are read with `soundfile` by seeking, never by loading whole files, or, with a `DecodedCache`,
sliced from memory-mapped decoded copies of the compressed (FLAC) files; the STFT is computed on the
fly in torch (`training.features`): a spectrogram cache would only add disk use and invalidation rules.
Audio is ``(2, samples)`` float32 throughout (mono files are duplicated to two channels).
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from isovox.core.errors import AudioDataError, AudioFileError
from isovox.training.alignment import Alignment, align
from isovox.training.corpus.levels import db_to_gain, rms
from isovox.training.decoded_cache import DecodedCache

AUDIO_EXTENSIONS = (".wav", ".flac")
MUSDB_ACCOMPANIMENT = ("drums", "bass", "other")
POOL_ROLES = ("vocals", "accompaniment")
PAIRED_GROUP = "paired"  # the sampling group of tracks that carry both stems
# MUSDB18's official validation tracks (a subset of train/): validation and checkpoint choice use
# these, never test/ (the test set measures the final model only)
MUSDB_VALIDATION_TRACKS = frozenset({
    "Actions - One Minute Smile", "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies", "Patrick Talbot - A Reason To Leave", "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero", "Fergessen - Nos Palpitants", "Leaf - Summerghost",
    "Skelpolu - Human Mistakes", "Young Griffo - Pennies", "ANiMAL - Rockshow", "James May - On The Line",
    "Meaxic - Take A Step", "Traffic Experiment - Sirens"})
SETTLE_SECONDS = 10.0  # with skip_incomplete, files modified more recently are still being written


class AlignmentWarning(UserWarning):
    """A seed-layout pair whose a cappella could not be located in its mix (the pair is skipped)."""


class IncompleteTrackWarning(UserWarning):
    """A track folder still being written (missing, unreadable or fresh stems); skipped this scan."""


def _info(path: Path) -> sf._SoundFileInfo:
    """Header of an audio file; `AudioFileError` naming the file if it is missing or unreadable."""
    if not path.is_file():
        raise AudioFileError(f"stem {str(path)!r} is missing; every track needs all of its stems")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises RuntimeError/LibsndfileError/…
        raise AudioFileError(f"stem {str(path)!r} is not readable audio ({str(exc).splitlines()[0][:120]}); "
                             "re-export or remove the track") from None
    if info.frames <= 0:
        raise AudioFileError(f"stem {str(path)!r} is empty; re-export or remove the track")
    if info.channels > 2:
        raise AudioDataError(f"stem {str(path)!r} has {info.channels} channels; expected mono or stereo")
    return info


def read_crop(path: Path, start: int, count: int, cache: DecodedCache | None = None) -> np.ndarray:
    """Samples `[start, start + count)` of `path` as (2, count) float32, zeros outside the file; a
    compressed file goes through `cache` (its decoded copy) when one is given."""
    out = np.zeros((2, count), dtype=np.float32)
    try:
        if cache is not None and cache.handles(path):
            frames = len(cache.samples(path))
            first, last = max(start, 0), min(start + count, frames)
            if last <= first:
                return out
            data = cache.read(path, first, last)
        else:
            with sf.SoundFile(str(path)) as f:
                first, last = max(start, 0), min(start + count, f.frames)
                if last <= first:
                    return out
                f.seek(first)
                data = f.read(last - first, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001
        raise AudioFileError(f"cannot read {str(path)!r} ({str(exc).splitlines()[0][:120]}); "
                             "re-export or remove the track") from None
    if len(data) < last - first:
        raise AudioFileError(f"{str(path)!r} ended early at frame {first + len(data)} of {last}; "
                             "the file is truncated")
    out[:, first - start:first - start + len(data)] = data.T if data.shape[1] == 2 else data.T[[0, 0]]
    return out


@dataclass(frozen=True)
class StemTrack:
    """A track given as separate stems: vocals plus one or more accompaniment stems (summed)."""

    name: str
    vocals: Path
    accompaniment: tuple[Path, ...]
    num_samples: int

    def read(self, start: int, count: int, cache: DecodedCache | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, accompaniment), each (2, count) float32."""
        vocals = read_crop(self.vocals, start, count, cache)
        accompaniment = sum(read_crop(path, start, count, cache) for path in self.accompaniment)
        return vocals, accompaniment


@dataclass(frozen=True)
class AlignedPairTrack:
    """A seed-layout pair: the mix and its a cappella placed by `alignment` (vocals = gain × shifted)."""

    name: str
    mix: Path
    acapella: Path
    num_samples: int
    alignment: Alignment

    def read(self, start: int, count: int, cache: DecodedCache | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, accompaniment), each (2, count) float32; accompaniment = mix − fitted vocals."""
        mix = read_crop(self.mix, start, count, cache)
        vocals = self.alignment.gain * read_crop(self.acapella, start - self.alignment.offset_samples, count,
                                                 cache)
        return vocals.astype(np.float32), (mix - vocals).astype(np.float32)


@dataclass(frozen=True)
class PoolTrack:
    """One file of a stem pool: vocals only or accompaniment only, mixed with the other pool at random."""

    name: str
    path: Path
    role: str            # "vocals" or "accompaniment"
    source: str          # its sampling group: the pool source, or the group its source.json names
    num_samples: int

    def read(self, start: int, count: int, cache: DecodedCache | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(vocals, accompaniment), each (2, count) float32; the stem this file lacks is silence."""
        audio = read_crop(self.path, start, count, cache)
        silence = np.zeros_like(audio)
        return (audio, silence) if self.role == "vocals" else (silence, audio)


Track = StemTrack | AlignedPairTrack | PoolTrack


def sampling_group(track: Track, role: str) -> str | None:
    """The group `track` is drawn from for stem `role`, or None if it has no such stem."""
    if isinstance(track, PoolTrack):
        return f"{role}/{track.source}" if track.role == role else None
    return PAIRED_GROUP


def _find_stem(folder: Path, stem: str) -> Path:
    for ext in AUDIO_EXTENSIONS:
        if (folder / f"{stem}{ext}").exists():
            return folder / f"{stem}{ext}"
    return folder / f"{stem}.wav"


def _subfolders(base: Path) -> list[Path]:
    """Sorted subfolders, without hidden ones (a writer's temporary output, e.g. the corpus's .tmp-<track>)."""
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_rate(path: Path, info, sample_rate: int) -> None:
    if info.samplerate != sample_rate:
        raise AudioDataError(f"{str(path)!r} is at {info.samplerate} Hz; the model expects {sample_rate} Hz "
                             "(resample the data set, e.g. with sox, or train with matching --sample-rate)")


@dataclass
class TrackScanner:
    """Finds tracks under a root folder; call `scan()` again to pick up tracks written since.

    `skip_incomplete` (for a corpus still being rendered): a track folder with missing, unreadable,
    unequal-length or freshly modified stems is skipped with a warning instead of raising."""

    root: Path
    sample_rate: int = 44100
    split: str | None = None          # "train"/"test" for MUSDB-style roots with split folders
    skip_incomplete: bool = False
    refuse_heldout: bool = False      # training scanners: a pool source marked held-out is an error
    _alignments: dict = field(default_factory=dict)  # (mix, acapella, mtimes) → Alignment

    def scan(self) -> list[Track]:
        root = Path(self.root)
        if not root.is_dir():
            raise AudioFileError(f"data folder {str(root)!r} does not exist; pass --data DIR with the stems")
        if self.split:
            bases = [root / self.split] if (root / self.split).is_dir() else [root]
        else:  # no split asked: every split folder present, else the root itself
            bases = [root / s for s in ("train", "test") if (root / s).is_dir()] or [root]
        tracks: list[Track] = []
        if any((root / role).is_dir() for role in POOL_ROLES):
            return self._pool_tracks(root)
        for base in bases:
            tracks += self._tracks_in(base)
        if not tracks and not self.split:  # grouped one level deeper, e.g. the suite's <category>/<clip>/
            for group in _subfolders(root):
                tracks += self._tracks_in(group)
        return tracks

    def _tracks_in(self, base: Path) -> list[Track]:
        """Track folders and song + a cappella pairs directly inside `base`."""
        tracks: list[Track] = []
        for folder in _subfolders(base):
            track = self._stem_track(folder)
            if track is not None:
                tracks.append(track)
        return tracks + self._seed_pairs(base)

    def _stem_track(self, folder: Path) -> StemTrack | None:
        names = {p.stem for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS}
        if not names & {"mixture", "vocals", "accompaniment", *MUSDB_ACCOMPANIMENT}:
            return None  # not a track folder
        others = ("accompaniment",) if "accompaniment" in names else MUSDB_ACCOMPANIMENT
        paths = [_find_stem(folder, "vocals"), *(_find_stem(folder, s) for s in others)]
        try:
            infos = [_info(p) for p in paths]
            for path, info in zip(paths, infos):
                _check_rate(path, info, self.sample_rate)
            lengths = {info.frames for info in infos}
            if self.skip_incomplete:
                newest = max(p.stat().st_mtime for p in paths)
                if time.time() - newest < SETTLE_SECONDS or max(lengths) - min(lengths) > 0:
                    raise AudioFileError(f"track {folder.name!r} is still being written")
        except (AudioFileError, AudioDataError) as exc:
            if self.skip_incomplete:
                warnings.warn(f"skipping {folder}: {exc}", IncompleteTrackWarning, stacklevel=3)
                return None
            raise
        return StemTrack(folder.name, paths[0], tuple(paths[1:]), min(lengths))

    def _pool_tracks(self, root: Path) -> list[PoolTrack]:
        """Every audio file of every source folder under ROOT/{vocals,accompaniment}/."""
        tracks = []
        for role in POOL_ROLES:
            if not (root / role).is_dir():
                continue
            for source_dir in _subfolders(root / role):
                group = self._pool_source_group(source_dir)
                for path in sorted(source_dir.iterdir()):
                    if path.suffix.lower() not in AUDIO_EXTENSIONS or path.name.startswith("."):
                        continue
                    info = _info(path)
                    _check_rate(path, info, self.sample_rate)
                    tracks.append(PoolTrack(f"{role}/{source_dir.name}/{path.stem}", path, role, group,
                                            info.frames))
        return tracks

    def _pool_source_group(self, source_dir: Path) -> str:
        """The sampling group named in the folder's source.json (default: the folder), after refusing a
        held-out source in a training scan: those clips measure generalisation."""
        manifest = source_dir / "source.json"
        meta = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
        split = meta.get("split", "train")
        if self.refuse_heldout and split != "train":
            raise AudioDataError(f"{source_dir} is a {split!r} source (source.json); it measures generalisation "
                                 "and is never trained on: remove it from the training pools")
        return meta.get("sampling_group") or source_dir.name

    def _seed_pairs(self, base: Path) -> list[AlignedPairTrack]:
        pairs = []
        for acapella in sorted(base.glob("*.acapella.*")):
            if acapella.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            name = acapella.name[: -len(".acapella" + acapella.suffix)]
            mix = next((base / f"{name}{ext}" for ext in AUDIO_EXTENSIONS if (base / f"{name}{ext}").exists()),
                       None)
            if mix is None:
                raise AudioFileError(f"{str(acapella)!r} has no mix beside it; expected {name}.wav "
                                     "in the same folder")
            mix_info, acap_info = _info(mix), _info(acapella)
            _check_rate(mix, mix_info, self.sample_rate)
            _check_rate(acapella, acap_info, self.sample_rate)
            key = (str(mix), str(acapella), mix.stat().st_mtime, acapella.stat().st_mtime)
            if key not in self._alignments:
                mix_mono = sf.read(str(mix), dtype="float32", always_2d=True)[0].mean(axis=1)
                acap_mono = sf.read(str(acapella), dtype="float32", always_2d=True)[0].mean(axis=1)
                self._alignments[key] = align(mix_mono, acap_mono, self.sample_rate)
            alignment = self._alignments[key]
            if not alignment.ok:
                warnings.warn(f"cannot align {acapella.name} with {mix.name}: {alignment.reason}; "
                              "the pair is skipped (check that they are the same song)",
                              AlignmentWarning, stacklevel=3)
                continue
            pairs.append(AlignedPairTrack(name, mix, acapella, mix_info.frames, alignment))
        return pairs


def total_seconds(tracks: list[Track], sample_rate: int) -> float:
    return sum(t.num_samples for t in tracks) / sample_rate


@dataclass(frozen=True)
class Augmentation:
    """Random gain per stem (dB range), channel swap, remixing stems across tracks, for pool
    vocals: production effects (EQ, compression, reverb, pan) and the mixing levels, and for pool
    accompaniment (whole produced tracks): a random mastering EQ with `accompaniment_eq_probability`.

    Accompaniment drawn for a remix can also be made unfamiliar: played faster or slower like tape
    (`accompaniment_speed_probability`, ±`accompaniment_speed_semitones`: other pitches, tempi and
    spectral envelopes) and layered over a second drawn crop (`accompaniment_layer_probability`, the
    second at `accompaniment_layer_db` against the first: arrangements no source plays)."""

    gain_db: tuple[float, float] = (-6.0, 3.0)
    swap_probability: float = 0.5
    remix_probability: float = 0.5
    vocal_effects: bool = True
    vocal_to_accompaniment_db: tuple[float, float] = (-8.0, 4.0)
    mixture_rms_db: tuple[float, float] = (-26.0, -14.0)
    silent_vocals_probability: float = 0.05   # instrumental crops: the mask must learn to close
    accompaniment_eq_probability: float = 0.0
    accompaniment_speed_probability: float = 0.0
    accompaniment_speed_semitones: float = 3.0
    accompaniment_layer_probability: float = 0.0
    accompaniment_layer_db: tuple[float, float] = (-12.0, -3.0)

    @classmethod
    def none(cls) -> Augmentation:
        """No randomness but the crops: stems at their own levels, the mixture at −20 dB RMS."""
        return cls(gain_db=(0.0, 0.0), swap_probability=0.0, remix_probability=0.0, vocal_effects=False,
                   vocal_to_accompaniment_db=(0.0, 0.0), mixture_rms_db=(-20.0, -20.0),
                   silent_vocals_probability=0.0, accompaniment_eq_probability=0.0)


ACCOMPANIMENT_EQ_STREAM = 1  # seeds the mastering-EQ draws apart from the crop's own generator
ACCOMPANIMENT_VARIETY_STREAM = 2  # seeds the speed and layer draws apart from it too
VOCAL_CROP_TRIES = 3  # pool vocal lines pause: keep the loudest of this many candidate crops


class _Groups:
    """Tracks per sampling group: a group is drawn uniformly (so a small source counts as much as a big
    one), then a track within it in proportion to its length."""

    def __init__(self, tracks: list[Track], role: str):
        members: dict[str, list[Track]] = {}
        for track in tracks:
            group = sampling_group(track, role)
            if group is not None:
                members.setdefault(group, []).append(track)
        self.names = sorted(members)
        self.tracks = [members[name] for name in self.names]
        self.cumulative = [np.cumsum([t.num_samples for t in group], dtype=np.float64) for group in self.tracks]

    def draw(self, rng: np.random.Generator) -> Track:
        group = int(rng.integers(len(self.names)))
        cumulative = self.cumulative[group]
        index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        return self.tracks[group][min(index, len(cumulative) - 1)]


class CropDataset(torch.utils.data.Dataset):
    """`length` random crops; item i is a deterministic function of (seed, epoch, rank, i).

    Vocals come from a group drawn uniformly (pool sources and paired tracks); the accompaniment is the
    same track's (paired, kept with probability 1 − remix) or one drawn from the accompaniment groups.
    Returns (vocals, accompaniment), each (2, crop_samples) float32 tensors. With a `cache`, compressed
    files are read from their decoded copies (the same samples, several times faster)."""

    def __init__(self, tracks: list[Track], crop_samples: int, length: int, *, seed: int = 0,
                 epoch: int = 0, rank: int = 0, augmentation: Augmentation = Augmentation(),
                 sample_rate: int = 44100, cache: DecodedCache | None = None):
        self.vocal_groups, self.accompaniment_groups = _Groups(tracks, "vocals"), _Groups(tracks, "accompaniment")
        if not tracks or not self.vocal_groups.names or not self.accompaniment_groups.names:
            raise AudioDataError("no usable tracks found (need vocals and accompaniment); check the --data folder "
                                 "layout (MUSDB18-HQ folders, vocals+accompaniment folders, "
                                 "<name>.acapella.wav pairs, or isovox prepare-data pools)")
        self.tracks, self.crop_samples, self.length = tracks, crop_samples, length
        self.seed, self.epoch, self.rank, self.augmentation = seed, epoch, rank, augmentation
        self.sample_rate, self.cache = sample_rate, cache

    def __len__(self) -> int:
        return self.length

    def _crop_start(self, rng: np.random.Generator, track: Track) -> int:
        return int(rng.integers(0, max(1, track.num_samples - self.crop_samples)))

    def _crop(self, rng: np.random.Generator, track: Track) -> tuple[np.ndarray, np.ndarray]:
        return track.read(self._crop_start(rng, track), self.crop_samples, self.cache)

    def _pool_vocals(self, rng: np.random.Generator, track: PoolTrack) -> np.ndarray:
        """The loudest of a few crops of a vocal line, produced (effects, pan): (2, crop_samples)."""
        crops = [self._crop(rng, track)[0] for _ in range(VOCAL_CROP_TRIES)]
        vocals = max(crops, key=rms)
        if not self.augmentation.vocal_effects:
            return vocals
        from isovox.training.corpus.mix import vocal_effects  # pedalboard: only where effects are used

        return vocal_effects(rng, vocals[0], self.sample_rate)[:, : self.crop_samples]

    def _drawn_accompaniment(self, rng: np.random.Generator, index: int, track: Track) -> np.ndarray:
        """A crop of `track`'s accompaniment drawn for a remix, (2, crop_samples): its start from `rng`
        (as `_crop`), then speed and layer draws from their own generator, so a run without them
        reads exactly the same crops."""
        aug = self.augmentation
        variety = np.random.default_rng([self.seed, self.epoch, self.rank, index, ACCOMPANIMENT_VARIETY_STREAM])
        accompaniment = self._played_crop(rng, variety, track)
        if variety.random() < aug.accompaniment_layer_probability:
            layer = self._played_crop(variety, variety, self.accompaniment_groups.draw(variety))
            level, layer_level = rms(accompaniment), rms(layer)
            if level > 1e-7 and layer_level > 1e-7:
                gain = db_to_gain(variety.uniform(*aug.accompaniment_layer_db)) * level / layer_level
                accompaniment = accompaniment + gain * layer
        return accompaniment

    def _played_crop(self, rng: np.random.Generator, variety: np.random.Generator, track: Track) -> np.ndarray:
        """`track`'s accompaniment from a start drawn by `rng`, at a speed drawn by `variety`."""
        aug = self.augmentation
        start = self._crop_start(rng, track)
        if variety.random() >= aug.accompaniment_speed_probability:
            return track.read(start, self.crop_samples, self.cache)[1]
        from isovox.training.corpus.mix import varispeed, varispeed_input_samples

        speed_ratio = 2.0 ** (variety.uniform(-1.0, 1.0) * aug.accompaniment_speed_semitones / 12.0)
        played = track.read(start, varispeed_input_samples(self.crop_samples, speed_ratio), self.cache)[1]
        return varispeed(played, speed_ratio, self.sample_rate, self.crop_samples)

    def _pool_accompaniment(self, index: int, accompaniment: np.ndarray) -> np.ndarray:
        """A pool music crop, sometimes re-mastered (EQ). Its own generator, so the other draws of the
        crop stay those of a run without this augmentation."""
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, index, ACCOMPANIMENT_EQ_STREAM])
        if rng.random() >= self.augmentation.accompaniment_eq_probability:
            return accompaniment
        from isovox.training.corpus.mix import mastering_eq  # pedalboard: only where the EQ is used

        return mastering_eq(rng, accompaniment, self.sample_rate)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"crop {index} out of range 0..{self.length - 1}")
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, index])
        aug = self.augmentation
        track = self.vocal_groups.draw(rng)
        pooled = isinstance(track, PoolTrack)
        if pooled:
            vocals, accompaniment = self._pool_vocals(rng, track), None
        else:
            vocals, accompaniment = self._crop(rng, track)
        if accompaniment is None or rng.random() < aug.remix_probability:
            other = self.accompaniment_groups.draw(rng)
            pooled = pooled or isinstance(other, PoolTrack)
            accompaniment = self._drawn_accompaniment(rng, index, other)
            if isinstance(other, PoolTrack):
                accompaniment = self._pool_accompaniment(index, accompaniment)
        if pooled:  # unpaired stems: set the levels a production would have
            vocals, accompaniment = self._levels(rng, vocals, accompaniment)
        else:
            gains = db_to_gain(rng.uniform(*aug.gain_db, size=2))
            vocals, accompaniment = vocals * gains[0], accompaniment * gains[1]
        if rng.random() < aug.silent_vocals_probability:
            vocals = np.zeros_like(vocals)
        if rng.random() < aug.swap_probability:
            vocals = vocals[::-1]
        if rng.random() < aug.swap_probability:
            accompaniment = accompaniment[::-1]
        return (torch.from_numpy(np.ascontiguousarray(vocals, dtype=np.float32)),
                torch.from_numpy(np.ascontiguousarray(accompaniment, dtype=np.float32)))

    def _levels(self, rng: np.random.Generator, vocals: np.ndarray,
                accompaniment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scale to a drawn vocal-to-accompaniment ratio and mixture RMS (both in dB)."""
        aug = self.augmentation
        ratio = db_to_gain(rng.uniform(*aug.vocal_to_accompaniment_db))
        v_rms, a_rms = rms(vocals), rms(accompaniment)
        if v_rms > 1e-7 and a_rms > 1e-7:
            vocals = vocals * (ratio * a_rms / v_rms)
        total = rms(vocals + accompaniment)
        if total > 1e-7:
            scale = db_to_gain(rng.uniform(*aug.mixture_rms_db)) / total
            peak = float(np.max(np.abs(vocals + accompaniment))) * scale
            scale /= max(1.0, peak / 0.99)  # never clip the mixture
            vocals, accompaniment = vocals * scale, accompaniment * scale
        return vocals, accompaniment


@dataclass(frozen=True)
class ValidationClip:
    """A fixed clip for validation: stems (2, samples) float32 at the model rate."""

    name: str
    vocals: np.ndarray
    accompaniment: np.ndarray

    @property
    def mixture(self) -> np.ndarray:
        return self.vocals + self.accompaniment


def validation_clips(tracks: list[Track], clip_seconds: float, max_clips: int,
                     sample_rate: int) -> list[ValidationClip]:
    """One clip per track (up to `max_clips`, tracks spread evenly): the `clip_seconds` window, on a
    one-second grid, where the vocals are loudest, so every clip actually tests separation.
    Instrumental tracks (silent vocals) are passed over: vocal SDR is undefined for them."""
    if not tracks:
        raise AudioDataError("no validation tracks found; pass --valid-data DIR with stems")
    clip_samples = int(clip_seconds * sample_rate)
    clips = []
    stride = max(1, len(tracks) // max_clips)
    # evenly spread first choices, then the rest in order, until enough clips have vocals
    for index in [*range(0, len(tracks), stride), *(i for i in range(len(tracks)) if i % stride)]:
        if len(clips) == max_clips:
            break
        track = tracks[int(index)]
        whole_vocals, _ = track.read(0, track.num_samples)
        energy = np.concatenate([[0.0], np.cumsum((whole_vocals.astype(np.float64) ** 2).sum(axis=0))])
        starts = np.arange(0, max(1, track.num_samples - clip_samples + 1), sample_rate)
        ends = np.minimum(starts + clip_samples, track.num_samples)
        windows = energy[ends] - energy[starts]
        if windows.max() <= 0:
            continue
        start = int(starts[np.argmax(windows)])
        vocals, accompaniment = track.read(start, clip_samples)
        clips.append(ValidationClip(track.name, vocals, accompaniment))
    if not clips:
        raise AudioDataError("every validation track has silent vocals; pass --valid-data DIR with sung tracks")
    return clips
