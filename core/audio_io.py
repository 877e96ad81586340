"""Audio files and arrays in and out: validation with typed errors, chunked reading, atomic writing,
and streaming resampling (soundfile + soxr).

Supported files: WAV, FLAC and OGG/Vorbis, 1 to 8 channels, 8 kHz to 192 kHz. Arrays are
``(channels, samples)`` float32 everywhere in isovox (soundfile's ``(samples, channels)`` stays here).
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioDataError, AudioFileError

FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}  # extension → libsndfile major format
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 192000
MAX_CHANNELS = 8


@dataclass(frozen=True)
class AudioInfo:
    """What a readable audio file holds."""

    path: Path
    sample_rate: int
    channels: int
    frames: int          # samples per channel
    format: str          # "WAV", "FLAC", "OGG"
    subtype: str         # "PCM_16", "FLOAT", "VORBIS", …

    @property
    def duration_seconds(self) -> float:
        return self.frames / self.sample_rate


def format_for(path: str | os.PathLike) -> str:
    """The libsndfile format for a path's extension; `AudioFileError` if unsupported."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise AudioFileError(f"{str(path)!r}: extension {suffix or '(none)'!r} is not supported; "
                             f"use one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


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


def read_info(path: str | os.PathLike) -> AudioInfo:
    """Open `path` just enough to validate it; raise `AudioFileError`/`AudioDataError` saying why not."""
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"input file {str(path)!r} does not exist; check the path")
    if not path.is_file():
        raise AudioFileError(f"input {str(path)!r} is not a file; pass an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"input file {str(path)!r} is empty (0 bytes); pass a WAV, FLAC or OGG file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read {str(path)!r} as audio ({_reason(exc)}); pass an uncorrupted "
                             f"WAV, FLAC or OGG file") from None
    if info.format not in FORMATS.values():
        raise AudioFileError(f"{str(path)!r} is {info.format} audio; isovox reads WAV, FLAC and OGG — "
                             f"convert it first (e.g. ffmpeg -i IN out.flac)")
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


def read_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Yield (channels, ≤ block_frames) float32 blocks of a validated file, first to last.

    Raises `AudioFileError` if decoding fails midway (corrupt or truncated) and `AudioDataError` if a
    sample is NaN or infinite (the message counts them all and names the first)."""
    position = 0
    first_bad: tuple[int, int] | None = None
    bad_count = 0
    try:
        with sf.SoundFile(str(info.path)) as handle:
            while True:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
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


def check_output_path(out_path: str | os.PathLike, in_paths: list[Path] = ()) -> Path:
    """Validate an output path: supported extension, existing writable folder, not an input file
    (also through links). Returns it as a Path."""
    out_path = Path(out_path)
    format_for(out_path)
    refuse_overwriting_input(out_path, in_paths)
    folder = out_path.parent if str(out_path.parent) else Path(".")
    if not folder.is_dir():
        raise AudioFileError(f"output folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AudioFileError(f"output folder {str(folder)!r} is not writable; choose another output path")
    if out_path.is_dir():
        raise AudioFileError(f"output {str(out_path)!r} is a folder; name an output file")
    return out_path


def output_subtype(out_format: str, input_subtype: str | None) -> str:
    """The input's subtype if `out_format` can store it, else the format's default."""
    if input_subtype and sf.check_format(out_format, input_subtype):
        return input_subtype
    return sf.default_subtype(out_format)


class AtomicAudioWriter:
    """Write an audio file via a temp file in the same folder, renamed into place on `commit()`.

    Use as a context manager: leaving the block without `commit()` (an error) deletes the temp file,
    so OUT is never left partial or overwritten with garbage. `write` takes (channels, n) float32."""

    def __init__(self, path: str | os.PathLike, sample_rate: int, channels: int, subtype: str | None = None):
        self.path = Path(path)
        self.format = format_for(self.path)
        self.subtype = subtype or sf.default_subtype(self.format)
        self._clip = not self.subtype.startswith(("FLOAT", "DOUBLE"))
        self._temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        try:
            self._file = sf.SoundFile(str(self._temp), "w", samplerate=sample_rate, channels=channels,
                                      format=self.format, subtype=self.subtype)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            self._temp.unlink(missing_ok=True)
            raise AudioFileError(f"cannot write {str(self.path)!r} ({_reason(exc)}); check the folder's "
                                 f"permissions and free space") from None

    def write(self, audio: np.ndarray) -> None:
        if self._clip:  # integer and Vorbis encodings would wrap or distort past full scale
            audio = np.clip(audio, -1.0, 1.0)
        try:
            self._file.write(audio.T)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioFileError(f"writing {str(self.path)!r} failed ({_reason(exc)}); check free space") from None

    def commit(self) -> None:
        self._file.close()
        os.replace(self._temp, self.path)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicAudioWriter:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._file.closed:
            self.discard()


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
