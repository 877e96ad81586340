"""Read recorded files in the formats the Debian packages ship, at their own rate and channel count.

libsndfile reads WAV, FLAC and Ogg Vorbis directly; ffmpeg decodes Opus, MP3 and G.722
(`ffmpeg -i x.g722 y.wav`); sox decodes raw GSM (`sox -t gsm -r 8000 -c 1`). A member of a zip
archive (`*.pk3`, `*.wz`) is extracted to a temporary file first. Arrays are (channels, samples) float32.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
from isovox.core.errors import AudioFileError, ToolMissingError

LIBSNDFILE_SUFFIXES = (".wav", ".flac", ".ogg")
FFMPEG_SUFFIXES = (".opus", ".mp3", ".g722")
GSM_SUFFIX = ".gsm"
_PACKAGES = {"ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "sox": "sox"}


def require_program(program: str) -> str:
    """The absolute path of `program`; `ToolMissingError` naming its apt package if absent."""
    path = shutil.which(program)
    if path is None:
        raise ToolMissingError(f"`{program}` not found on PATH; decoding the recorded sources needs it: "
                               f"apt-get install {_PACKAGES[program]}")
    return path


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()[-300:]
        raise AudioFileError(f"cannot decode {what}: {cmd[0]} exited {proc.returncode} ({message}); "
                             "check the file, or reinstall its package")
    return proc


def _read_soundfile(path: str, what: str) -> tuple[np.ndarray, int]:
    try:
        audio, sample_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"cannot read {what} ({exc}); check the file, or reinstall its package") from None
    if audio.shape[0] == 0:
        raise AudioFileError(f"{what} holds no samples; exclude it from its source")
    return np.ascontiguousarray(audio.T), int(sample_rate)


def _decode_with(tool_cmd: list[str], path: str, what: str) -> tuple[np.ndarray, int]:
    """Run `tool_cmd` with "{in}" and "{out}" replaced by `path` and a temporary WAV, and read that WAV."""
    with tempfile.TemporaryDirectory(prefix="isovox-decode-") as tmp:
        wav = os.path.join(tmp, "decoded.wav")
        _run([{"{in}": path, "{out}": wav}.get(arg, arg) for arg in tool_cmd], what)
        return _read_soundfile(wav, what)


def decode_file(path: str | os.PathLike, what: str | None = None) -> tuple[np.ndarray, int]:
    """Decode one file by its extension: (channels, samples) float32 and its sample rate in Hz."""
    path = str(path)
    what = what or path
    suffix = Path(path).suffix.lower()
    if suffix in LIBSNDFILE_SUFFIXES:
        try:
            return _read_soundfile(path, what)
        except AudioFileError:
            if suffix != ".ogg":  # an .ogg libsndfile cannot read may still be Opus or FLAC in Ogg
                raise
    if suffix in (*FFMPEG_SUFFIXES, ".ogg"):
        ffmpeg = require_program("ffmpeg")
        return _decode_with([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", "{in}", "-c:a", "pcm_f32le", "{out}"],
                            path, what)
    if suffix == GSM_SUFFIX:
        sox = require_program("sox")
        return _decode_with([sox, "-t", "gsm", "-r", "8000", "-c", "1", "{in}", "-e", "floating-point", "{out}"],
                            path, what)
    raise AudioFileError(f"{what}: extension {suffix or '(none)'!r} is not a recorded format isovox reads; "
                         f"use one of {', '.join((*LIBSNDFILE_SUFFIXES, *FFMPEG_SUFFIXES, GSM_SUFFIX))}")


def read_member(archive: str | os.PathLike, member: str) -> bytes:
    """The bytes of one member of a zip archive (`*.pk3`, `*.wz`)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise AudioFileError(f"cannot read {member!r} from {str(archive)!r} ({exc}); "
                             "reinstall the package that ships the archive") from None


def decode_member(archive: str | os.PathLike, member: str) -> tuple[np.ndarray, int]:
    """Decode one zip member by extracting it to a temporary file with the member's extension."""
    data = read_member(archive, member)
    with tempfile.TemporaryDirectory(prefix="isovox-member-") as tmp:
        path = os.path.join(tmp, "member" + Path(member).suffix.lower())
        with open(path, "wb") as f:
            f.write(data)
        return decode_file(path, what=f"{archive}:{member}")


def probe(path: str | os.PathLike, what: str = "") -> dict:
    """ffprobe's container and stream tags and the duration: {"tags": {key: value}, "seconds": float}.

    Files ffprobe rejects but libsndfile reads (some Ogg Vorbis headers) get libsndfile's tags."""
    ffprobe = require_program("ffprobe")
    cmd = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        try:
            with sf.SoundFile(str(path)) as f:
                return {"tags": {k: v for k, v in f.copy_metadata().items() if v}, "seconds": f.frames / f.samplerate}
        except sf.LibsndfileError:
            pass
        raise AudioFileError(f"ffprobe cannot read {what or path} ({proc.stderr.decode(errors='replace')[-200:]}); "
                             "check the file, or reinstall its package")
    info = json.loads(proc.stdout or b"{}")
    tags: dict[str, str] = {}
    for block in (info.get("format", {}), *info.get("streams", [])):
        tags.update({str(k): str(v) for k, v in block.get("tags", {}).items()})
    seconds = float(info.get("format", {}).get("duration") or 0.0)
    return {"tags": tags, "seconds": seconds}
