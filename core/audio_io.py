"""Audio files and arrays in and out: validation with typed errors, chunked reading, atomic writing
(with counted clipping), and streaming resampling (soundfile + soxr). isovox's one audio I/O stack.

Supported files, read and written by the libsndfile inside soundfile: WAV (also WAVE_FORMAT_EXTENSIBLE,
RF64, Wave64 when reading), FLAC, OGG/Vorbis, MP3 and AIFF, 1 to 8 channels, 8 kHz to 192 kHz
(MP3: 1 or 2 channels at 8–48 kHz). M4A/AAC is not readable: the message says how to convert it.
Arrays are ``(channels, samples)`` float32 everywhere in isovox (soundfile's ``(samples, channels)``
stays here).
"""
from __future__ import annotations

import os
import shlex
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .atomic_files import temporary_path
from .errors import AudioDataError, AudioFileError, ClippingWarning, ConfigMismatchError, SettingError

# extension → libsndfile major format, for writing (and naming what is read)
FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3", ".aiff": "AIFF", ".aif": "AIFF"}
READ_FORMATS = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG", "MP3", "AIFF"}
FORMAT_NAMES = "WAV, FLAC, OGG, MP3 or AIFF"
LOSSY_FORMATS = {"OGG", "MP3"}
MP3_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}   # --bit-depth → libsndfile subtype
CLIP_MODES = ("rescale", "clamp", "none")
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000
MAX_CHANNELS = 8


@dataclass(frozen=True)
class AudioInfo:
    """What a readable audio file holds."""

    path: Path
    sample_rate: int
    channels: int
    samples: int         # per channel
    format: str          # "WAV", "FLAC", "OGG"
    subtype: str         # "PCM_16", "FLOAT", "VORBIS", …

    @property
    def duration_seconds(self) -> float:
        return self.samples / self.sample_rate


def format_for(path: str | os.PathLike) -> str:
    """The libsndfile format for a path's extension; `AudioFileError` if unsupported."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise AudioFileError(f"{str(path)!r}: extension {suffix or '(none)'!r} is not supported; "
                             f"use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def check_output_signal(path: str | os.PathLike, sample_rate: int, channels: int) -> None:
    """Raise `AudioFileError` when `path`'s format cannot hold this rate and channel count (MP3)."""
    if format_for(path) == "MP3" and (sample_rate not in MP3_SAMPLE_RATES or channels > 2):
        raise AudioFileError(f"{str(path)!r}: MP3 holds 1 or 2 channels at 8–48 kHz, not {channels} "
                             f"channels at {sample_rate} Hz; write FLAC, WAV or OGG instead")


def check_signal_shape(channels: int, sample_rate: int, what: str) -> None:
    """Raise `AudioDataError` unless 1..8 channels and 8..192 kHz."""
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioDataError(f"{what} has {channels} channels; isovox handles 1 to {MAX_CHANNELS}; "
                             f"split or down-mix it first")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioDataError(f"{what} has sample rate {sample_rate} Hz; isovox handles "
                             f"{MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz; resample it first")


def _wav_data_truncated(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE 'data' chunk when the file is shorter than declared."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"data":
                present = size - position - 8
                return (chunk_size, present) if chunk_size > present and chunk_size != 0xFFFFFFFF else None
            position += 8 + chunk_size + (chunk_size & 1)
    return None


def _unreadable_kind(path: Path) -> str | None:
    """'M4A/AAC' when `path` is an MP4 container or raw ADTS AAC (libsndfile reads neither), else None."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    adts = len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0   # sync word, layer 0
    if head[4:8] == b"ftyp" or adts or path.suffix.lower() in (".m4a", ".m4b", ".mp4", ".aac", ".alac"):
        return "M4A/AAC"
    return None


def read_info(path: str | os.PathLike) -> AudioInfo:
    """Open `path` just enough to validate it; raise `AudioFileError`/`AudioDataError` saying why not."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"input file {str(path)!r} does not exist; check the path")
    if not path.is_file():
        raise AudioFileError(f"input {str(path)!r} is not a file; pass an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"input file {str(path)!r} is empty (0 bytes); pass a {FORMAT_NAMES} file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        kind = _unreadable_kind(path)
        if kind is not None:
            raise AudioFileError(f"{str(path)!r} is {kind} audio, which isovox cannot read (libsndfile has "
                                 f"no AAC decoder); convert it first: ffmpeg -i {shlex.quote(str(path))} "
                                 f"{shlex.quote(str(path.with_suffix('.wav')))}") from None
        raise AudioFileError(f"cannot read {str(path)!r} as audio ({_reason(exc)}); pass an uncorrupted "
                             f"{FORMAT_NAMES} file") from None
    if info.format not in READ_FORMATS:
        raise AudioFileError(f"{str(path)!r} is {info.format} audio; isovox reads {FORMAT_NAMES} — "
                             f"convert it first: ffmpeg -i {shlex.quote(str(path))} "
                             f"{shlex.quote(str(path.with_suffix('.flac')))}")
    truncated = _wav_data_truncated(path) if info.format == "WAV" else None
    if truncated:
        raise AudioFileError(f"{str(path)!r} is truncated: its header declares {truncated[0]} bytes of audio "
                             f"but only {truncated[1]} are present; re-export or re-download it")
    if info.frames <= 0:
        raise AudioFileError(f"{str(path)!r} holds no audio samples; pass a file with sound in it")
    check_signal_shape(info.channels, info.samplerate, repr(str(path)))
    return AudioInfo(path, info.samplerate, info.channels, info.frames, info.format, info.subtype)


def _reason(exc: Exception) -> str:
    return str(exc).replace("Error opening ", "").splitlines()[0][:160]


def read_blocks(info: AudioInfo, block_samples: int) -> Iterator[np.ndarray]:
    """Yield (channels, ≤ block_samples) float32 blocks of a validated file, first to last.

    Raises `AudioFileError` if decoding fails midway (corrupt or truncated) and `AudioDataError` if a
    sample is NaN or infinite (the message counts them all and names the first)."""
    position = 0
    first_bad: tuple[int, int] | None = None
    bad_count = 0
    try:
        with sf.SoundFile(str(info.path)) as handle:
            while True:
                block = handle.read(block_samples, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                finite = np.isfinite(block)
                if not finite.all():
                    bad_count += int(block.size - np.count_nonzero(finite))
                    if first_bad is None:
                        frame, channel = np.argwhere(~finite)[0]
                        first_bad = (position + int(frame), int(channel))
                if first_bad is None:
                    yield block.T
                position += len(block)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{str(info.path)!r} is corrupt or truncated after sample {position} "
                             f"({_reason(exc)}); re-export or re-download it") from None
    if first_bad is not None:
        raise AudioDataError(_nonfinite_message(repr(str(info.path)), bad_count, first_bad[0], first_bad[1],
                                                info.sample_rate))


def _nonfinite_message(what: str, count: int, sample: int, channel: int, sample_rate: int) -> str:
    return (f"{what} has {count} NaN/Inf samples, the first at sample {sample} "
            f"({sample / sample_rate:.3f} s) of channel {channel}; repair the audio first")


def validate_audio(audio: np.ndarray, sample_rate: int, what: str = "audio") -> np.ndarray:
    """Check a (channels, samples) array; return it as float32 (copied only if the dtype differs)."""
    audio = np.asarray(audio)
    if audio.ndim != 2:
        raise AudioDataError(f"{what} has shape {audio.shape}; expected (channels, samples), e.g. "
                             f"audio[None] for mono or audio.T for soundfile's (samples, channels)")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioDataError(f"{what} has dtype {audio.dtype}; pass float samples in [-1, 1]")
    check_signal_shape(audio.shape[0], int(sample_rate), what)
    if audio.shape[1] == 0:
        raise AudioDataError(f"{what} has no samples; pass at least one sample per channel")
    audio = audio.astype(np.float32, copy=False)
    finite = np.isfinite(audio)
    if not finite.all():
        sample = np.flatnonzero(~finite.all(axis=0))[0]
        channel = np.flatnonzero(~finite[:, sample])[0]
        raise AudioDataError(_nonfinite_message(what, int(audio.size - np.count_nonzero(finite)),
                                                int(sample), int(channel), int(sample_rate)))
    return audio


def refuse_overwriting_input(out_path: str | os.PathLike, in_paths: list[Path] = ()) -> None:
    """Raise `AudioFileError` when `out_path` is one of `in_paths`, also through symlinks and hard links."""
    out_path = Path(out_path)
    for in_path in in_paths:
        same = out_path.resolve() == Path(in_path).resolve()
        if not same and out_path.exists():
            try:
                same = os.path.samefile(out_path, in_path)
            except OSError:
                same = False
        if same:
            raise AudioFileError(f"output {str(out_path)!r} is the input file; isovox never overwrites "
                                 f"its input — choose another output path")


def check_output_path(out_path: str | os.PathLike, in_paths: list[Path] = (), sample_rate: int | None = None,
                      channels: int | None = None, create_folder: bool = False) -> Path:
    """Validate an output path: supported extension, a writable folder (one that exists, or, with
    `create_folder`, that can be made), not an input file (also through links), and a format that holds
    `sample_rate` and `channels` where given. Returns it as a Path."""
    out_path = Path(out_path)
    format_for(out_path)
    refuse_overwriting_input(out_path, in_paths)
    folder = out_path.parent if str(out_path.parent) else Path(".")
    if create_folder:
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist; create it first"
        raise AudioFileError(f"output folder {str(folder)!r} {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AudioFileError(f"output folder {str(folder)!r} is not writable; choose another output path")
    if out_path.is_dir():
        raise AudioFileError(f"output {str(out_path)!r} is a folder; name an output file")
    if sample_rate is not None and channels is not None:
        check_output_signal(out_path, sample_rate, channels)
    return out_path


def output_subtype(out_format: str, input_subtype: str | None, bit_depth: str | None = None) -> str:
    """The subtype to write: `bit_depth` ("16", "24", "32f") where given; else the input's subtype if
    `out_format` can store it, 24-bit for float or 32-bit input to FLAC (its deepest), else the
    format's default. Raises `ConfigMismatchError` for a bit depth the format cannot hold."""
    if bit_depth is not None:
        if bit_depth not in BIT_DEPTHS:
            raise SettingError(f"bit depth {bit_depth!r} is not one of {', '.join(BIT_DEPTHS)}")
        if out_format in LOSSY_FORMATS:
            raise ConfigMismatchError(f"{out_format} is lossy and has no bit depth; drop --bit-depth "
                                      f"{bit_depth} or write WAV, FLAC or AIFF")
        if not sf.check_format(out_format, BIT_DEPTHS[bit_depth]):
            depth = "32-bit float" if bit_depth == "32f" else f"{bit_depth}-bit"
            raise ConfigMismatchError(f"{out_format} cannot store {depth} samples (at most 24-bit integers); "
                                      "use --bit-depth 24, or write WAV or AIFF for 32-bit float")
        return BIT_DEPTHS[bit_depth]
    lossy_input = str(input_subtype).startswith(("VORBIS", "OPUS", "MPEG_"))  # e.g. MP3 in WAV: not writable
    if input_subtype and sf.check_format(out_format, input_subtype) and (out_format in LOSSY_FORMATS
                                                                          or not lossy_input):
        return input_subtype
    if input_subtype in ("FLOAT", "DOUBLE", "PCM_32") and sf.check_format(out_format, "PCM_24"):
        return "PCM_24"
    return sf.default_subtype(out_format)


class AtomicAudioWriter:
    """Write an audio file via a temp file in the same folder, renamed into place on `commit()`.

    Use as a context manager: leaving the block without `commit()` (an error) deletes the temp files,
    so OUT is never left partial or overwritten with garbage. `write` takes (channels, n) float32.

    clip_mode says what happens to samples beyond ±1: "clamp" them (the default for integer and lossy
    subtypes), "none" (written as they are: float keeps them, the default for float subtypes), or
    "rescale": the audio is staged as float beside the output and re-encoded by `commit(gain)`, with
    the gain the caller picks from `peak` (one gain for several stems keeps their sum the mixture's).
    `over_full_scale` counts the samples beyond ±1 written so far, `peak` is the largest |sample|.
    """

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, subtype: str | None = None,
                 clip_mode: str | None = None):
        self.path = Path(path)
        self.format = format_for(self.path)
        self.subtype = subtype or sf.default_subtype(self.format)
        self.float_output = self.subtype in ("FLOAT", "DOUBLE")
        self.clip_mode = clip_mode or ("none" if self.float_output else "clamp")
        if self.clip_mode not in CLIP_MODES:
            raise SettingError(f"clip mode {self.clip_mode!r} is not one of {', '.join(CLIP_MODES)}")
        self.peak, self.over_full_scale = 0.0, 0
        self._sample_rate, self._channels = sample_rate, channels
        self._temp = temporary_path(self.path)
        self._stage = self._temp.with_name(f"{self._temp.name}.w64") if self.clip_mode == "rescale" else None
        if self._stage is None:
            self._file = self._open(self._temp, self.format, self.subtype)
        else:   # Wave64: no 4 GB limit for the float copy of a long file
            self._file = self._open(self._stage, "W64", "FLOAT")

    def _open(self, temp: Path, file_format: str, subtype: str) -> sf.SoundFile:
        # MP3: 320 kbit/s constant, the encoder's best (libsndfile's default is ~160 kbit/s variable)
        mp3 = {"compression_level": 0.0, "bitrate_mode": "CONSTANT"} if file_format == "MP3" else {}
        try:
            return sf.SoundFile(str(temp), "w", samplerate=self._sample_rate, channels=self._channels,
                                format=file_format, subtype=subtype, **mp3)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            temp.unlink(missing_ok=True)
            raise AudioFileError(f"cannot write {str(self.path)!r} ({_reason(exc)}); check the folder's "
                                 f"permissions and free space") from None

    def write(self, audio: np.ndarray) -> None:
        magnitude = np.abs(audio)
        if magnitude.size:
            self.peak = max(self.peak, float(magnitude.max()))
            self.over_full_scale += int(np.count_nonzero(magnitude > 1.0))
        if self.clip_mode == "clamp":  # integer and lossy encodings would saturate or distort past full scale
            audio = np.clip(audio, -1.0, 1.0)
        self._write(self._file, audio)

    def _write(self, handle: sf.SoundFile, audio: np.ndarray) -> None:
        try:
            handle.write(audio.T)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioFileError(f"writing {str(self.path)!r} failed ({_reason(exc)}); check free space") from None

    def commit(self, gain: float = 1.0) -> None:
        """Finish the file and rename it into place; a staged ("rescale") file is re-encoded × `gain`."""
        self._file.close()
        if self._stage is not None:
            self._file = self._open(self._temp, self.format, self.subtype)
            with sf.SoundFile(str(self._stage)) as staged:
                for block in staged.blocks(65536, dtype="float32", always_2d=True):
                    scaled = block.T * np.float32(gain)
                    self._write(self._file, scaled if self.float_output else np.clip(scaled, -1.0, 1.0))
            self._file.close()
            self._stage.unlink()
        elif gain != 1.0:
            raise ValueError("a gain needs clip_mode='rescale' (the samples are already written)")
        os.replace(self._temp, self.path)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)
        if self._stage is not None:
            self._stage.unlink(missing_ok=True)

    def __enter__(self) -> AtomicAudioWriter:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._file.closed:
            self.discard()


def rescale_gain(writers: list[AtomicAudioWriter]) -> float:
    """The one gain that brings the loudest of `writers` (clip_mode "rescale") to full scale, or 1."""
    peak = max((writer.peak for writer in writers), default=0.0)
    return 1.0 / peak if peak > 1.0 else 1.0


def warn_clipping(writers: list[AtomicAudioWriter], what: str, gain: float = 1.0) -> None:
    """One `ClippingWarning` for all of `writers` (one clip mode) counting their samples beyond full
    scale; none when there were none, or when float outputs kept them as they are."""
    loud = [w for w in writers if w.over_full_scale and not (w.clip_mode == "none" and w.float_output)]
    if not loud:
        return
    count = sum(w.over_full_scale for w in loud)
    where = ", ".join(f"{w.over_full_scale} in {w.path.name}" for w in loud)
    mode = loud[0].clip_mode
    if mode == "none" and loud[0].format not in LOSSY_FORMATS:
        mode = "clamp"          # an integer format saturates at full scale: clipped all the same
    if mode == "rescale":
        message = (f"{what}: {count} samples beyond full scale ({where}); scaled by "
                   f"{20 * np.log10(gain):.2f} dB so that none clips")
    elif mode == "clamp":
        message = (f"{what}: {count} samples beyond full scale clipped ({where}); --clip-mode rescale or "
                   "--bit-depth 32f keeps them")
    else:
        message = (f"{what}: {count} samples beyond full scale written unclipped ({where}); players will "
                   "clip them")
    warnings.warn(message, ClippingWarning, stacklevel=3)


class StreamResampler:
    """Constant-memory resampling of (channels, n) float32 blocks (soxr, delay compensated).

    Identity (no copy) when the rates are equal. The concatenated output equals resampling the
    whole signal at once; `process(..., last=True)` flushes what the filter still holds."""

    def __init__(self, in_rate: int, out_rate: int, channels: int, quality: str = "HQ"):
        self.in_rate, self.out_rate, self.channels, self.quality = in_rate, out_rate, channels, quality
        self.reset()

    @property
    def identity(self) -> bool:
        return self.in_rate == self.out_rate

    def reset(self) -> None:
        self._stream = None if self.identity else soxr.ResampleStream(
            self.in_rate, self.out_rate, self.channels, dtype="float32", quality=self.quality)

    def held_samples(self) -> float:
        """Output samples the filter currently holds back."""
        return 0.0 if self._stream is None else float(self._stream.delay())

    def process(self, audio: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return audio
        out = self._stream.resample_chunk(np.ascontiguousarray(audio.T), last=last)
        return np.ascontiguousarray(out.T)
