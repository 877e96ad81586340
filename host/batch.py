"""Which files `isovox separate` reads and writes: inputs and folders → tracks → stem files.

One input file with an OUT that names a file keeps the original contract: OUT is the first stem's
file, the others beside it (`stem_paths`), an existing OUT is replaced. Otherwise OUT is a folder
(several inputs, a folder among them, OUT an existing folder, OUT ending in "/" or without an
extension, or --filename): each track writes OUT/<template> (default "{track}/{stem}.{ext}"), and
stem files that exist are kept unless `overwrite`. Every input is checked before any model loads;
a bad one becomes a one-line failure and the others go on.
"""
from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path

from isovox.core.audio_io import (
    FORMATS,
    check_output_path,
    format_for,
    output_subtype,
    read_info,
)
from isovox.core.errors import AudioFileError, ConfigMismatchError, IsovoxError, SettingError

from .separator import check_stems, stem_paths

DEFAULT_TEMPLATE = "{track}/{stem}.{ext}"
TEMPLATE_FIELDS = ("track", "stem", "ext")
EXTENSIONS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3", "aiff": "AIFF"}  # --format → format
# what a folder scan takes for audio: the readable formats, and M4A/AAC so that each gets its own message
SCANNED_SUFFIXES = {*FORMATS, ".m4a", ".aac"}


@dataclass(frozen=True)
class Track:
    """One input and the stem files to write for it (`kept`: stems whose file exists, left alone)."""

    input: Path
    outputs: dict[str, Path]
    kept: dict[str, Path] = field(default_factory=dict)


@dataclass
class Plan:
    """The tracks to separate, the inputs refused (input, one-line reason), and whether it is the
    one-file contract (`single`: errors are raised as before, not collected)."""

    tracks: list[Track]
    failures: list[tuple[Path, IsovoxError]]
    single: bool


def plan_tracks(inputs: list[str], output: str, stems: list[str], template: str | None = None,
                file_format: str | None = None, bit_depth: str | None = None,
                overwrite: bool = False) -> Plan:
    """Expand `inputs` (files and folders) into tracks writing under `output`, each input checked."""
    stems = check_stems(stems)
    if file_format is not None and file_format not in EXTENSIONS:
        raise SettingError(f"format {file_format!r} is not one of {', '.join(EXTENSIONS)}")
    if _is_single(inputs, output, template):
        return _single_plan(Path(inputs[0]), Path(output), stems, file_format, bit_depth)
    names_folder = Path(output).is_dir() or output.endswith(("/", os.sep))
    if Path(output).suffix.lower() in FORMATS and not names_folder:
        raise ConfigMismatchError(f"-o {output!r} names one file, but a folder or several files are "
                                  "separated; name a folder instead, e.g. -o separated/")
    ext = file_format or "wav"
    output_subtype(EXTENSIONS[ext], None, bit_depth)    # a bit depth the format cannot hold fails now
    fields = _template_fields(template or DEFAULT_TEMPLATE, len(stems))
    files, failures = expand_inputs(inputs)
    identities = {key: path for path in files if path.is_file() for key in _identities(path)}
    tracks, owners = [], {}
    for path in files:
        try:
            outputs = {stem: Path(output) / (template or DEFAULT_TEMPLATE).format(track=path.stem, stem=stem,
                                                                                   ext=ext) for stem in stems}
            _check_template_output(outputs, ext, fields)
            tracks.append(_checked_track(path, outputs, identities, overwrite, owners))
        except IsovoxError as exc:
            failures.append((path, exc))
    return Plan(tracks, failures, single=False)


def _identities(path: Path) -> list[object]:
    """What makes two names one file: the resolved path, and (device, inode) where it exists."""
    keys: list[object] = [path.resolve()]
    if path.exists():
        stat = path.stat()
        keys.append((stat.st_dev, stat.st_ino))
    return keys


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[Path, IsovoxError]]]:
    """Input files in order: a folder gives its audio files (sorted, not its subfolders, not hidden
    files); a folder without any is a failure. Missing files stay in the list (checked later)."""
    files, failures = [], []
    for name in inputs:
        path = Path(name)
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and p.suffix.lower() in SCANNED_SUFFIXES)
        if not found:
            failures.append((path, AudioFileError(f"folder {name!r} holds no audio files "
                                                  f"({', '.join(sorted(SCANNED_SUFFIXES))})")))
        files.extend(found)
    return files, failures


def _is_single(inputs: list[str], output: str, template: str | None) -> bool:
    """Whether this is `isovox separate IN -o OUT` with OUT the first stem's file."""
    out = Path(output)
    names_folder = out.is_dir() or output.endswith(("/", os.sep)) or not out.suffix
    return len(inputs) == 1 and not Path(inputs[0]).is_dir() and template is None and not names_folder


def _single_plan(source: Path, output: Path, stems: list[str], file_format: str | None,
                 bit_depth: str | None) -> Plan:
    """The one-file contract: every check raises (one line), as it always has."""
    info = read_info(source)
    paths = stem_paths(output, stems)
    out_format = format_for(output)
    if file_format is not None and EXTENSIONS[file_format] != out_format:
        raise ConfigMismatchError(f"-o {str(output)!r} is {out_format} but --format is {file_format}; "
                                  f"drop --format or name the file .{file_format}")
    output_subtype(out_format, info.subtype, bit_depth)
    for path in paths.values():
        check_output_path(path, [info.path], info.sample_rate, info.channels)
    return Plan([Track(info.path, paths)], [], single=True)


def _template_fields(template: str, stem_count: int) -> set[str]:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise SettingError(f"--filename {template!r} is not a valid template ({exc}); "
                           "e.g. '{track}/{stem}.{ext}'") from None
    unknown = sorted(fields - set(TEMPLATE_FIELDS))
    if unknown:
        braced = ", ".join("{" + name + "}" for name in unknown)
        raise SettingError(f"--filename {template!r}: unknown field {braced}; use "
                           f"{', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}")
    if Path(template).is_absolute():
        raise SettingError(f"--filename {template!r} must be relative to the -o folder")
    if stem_count > 1 and "stem" not in fields:
        raise SettingError(f"--filename {template!r} has no {{stem}}, so every stem would go to one "
                           "file; add {stem}")
    return fields


def _check_template_output(outputs: dict[str, Path], ext: str, fields: set[str]) -> None:
    for path in outputs.values():
        if format_for(path) != EXTENSIONS[ext]:
            hint = "" if "ext" in fields else "; end --filename with .{ext}"
            raise ConfigMismatchError(f"{str(path)!r} is not a .{ext} file but --format is {ext}{hint}")


def _checked_track(source: Path, outputs: dict[str, Path], identities: dict[object, Path],
                   overwrite: bool, owners: dict[Path, Path]) -> Track:
    """A validated track: no output may be any input (`identities`: see `_identities`), and `owners`
    (output → input) catches two inputs writing the same file."""
    info = read_info(source)
    for path in outputs.values():
        inputs = [identities[key] for key in _identities(path) if key in identities]  # the batch's, at once
        check_output_path(path, [info.path, *inputs], info.sample_rate, info.channels, create_folder=True)
        other = owners.get(path.resolve())
        if other is not None:
            raise ConfigMismatchError(f"{str(source)!r} would write {str(path)!r}, as {str(other)!r} does; "
                                      "rename one of them or separate them into different -o folders")
    for path in outputs.values():
        owners[path.resolve()] = source
    kept = {} if overwrite else {stem: path for stem, path in outputs.items() if path.exists()}
    return Track(info.path, {s: p for s, p in outputs.items() if s not in kept}, kept)


def make_folders(tracks: list[Track]) -> list[Path]:
    """Create the folders the tracks' outputs go to; return those that did not exist, deepest first."""
    created: list[Path] = []
    for folder in sorted({path.parent for track in tracks for path in track.outputs.values()}):
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for new in reversed(missing):
            new.mkdir()
        created.extend(missing)
    return sorted(created, key=lambda p: len(p.parts), reverse=True)


def remove_empty_folders(folders: list[Path]) -> None:
    """rmdir each of `folders` (deepest first) that a failed track left empty."""
    for folder in folders:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
