"""The registry of recorded sources: real speech and real instrumental music from Debian packages.

Each `Source` names its package, pool role, split and root, and a lister that returns its files
(`SourceFile`) and the files it leaves out with the reason (`Exclusion`). Listers read only the exact
folders named here (the reserved packages of ../shared/DATA.md live next to some of them).
`with_root` re-roots a source, so tests run the real listers on files they make themselves.
"""
from __future__ import annotations

import configparser
import dataclasses
import fnmatch
import functools
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from isovox.core.errors import AudioDataError, AudioFileError

VOCALS, ACCOMPANIMENT = "vocals", "accompaniment"
REAL_SPEECH, REAL_MUSIC = "real-speech", "real-music"
TRAIN, HELDOUT = "train", "heldout"


@dataclass(frozen=True)
class SourceFile:
    """One recorded file: where to read it, its id, and what the pool writer needs to know about it.

    `member`: the member inside the zip archive `path`. `parts`: files summed with it into one track.
    `speaker`: speech lines never mix two speakers. `voice`: who that is, for counting distinct voices
    (defaults to `speaker`). `licence_path`: the path the package's copyright file uses for it."""

    item_id: str
    path: str
    member: str | None = None
    parts: tuple[str, ...] = ()
    speaker: str | None = None
    voice: str | None = None
    title: str = ""
    licence_path: str = "*"

    @property
    def location(self) -> str:
        return f"{self.path}:{self.member}" if self.member else self.path


@dataclass(frozen=True)
class Exclusion:
    """A file left out of a pool, and why."""

    file: str
    reason: str


Lister = Callable[[Path], tuple[list[SourceFile], list[Exclusion]]]


@dataclass(frozen=True)
class Source:
    """A recorded source: one Debian package, one pool role, one split.

    `licence`/`attribution`/`licence_evidence` are declared only where the copyright file is free text;
    DEP-5 files are read per file. `credits` is appended to the attribution (composers named elsewhere).
    `cut_loops`: tracks that repeat one loop are cut to a single period. `exclude`: (pattern on the
    item id, reason) pairs for files left out by name. `sampling_group`: training draws a group
    uniformly, so small sources share one (default: the source alone)."""

    name: str
    package: str
    role: str
    split: str
    root: str
    lister: Lister
    licence: str | None = None
    attribution: str | None = None
    licence_evidence: str = ""
    credits: str = ""
    cut_loops: bool = False
    notes: str = ""
    exclude: tuple[tuple[str, str], ...] = ()
    copyright_file: str = ""  # default: the package's /usr/share/doc/<package>/copyright
    sampling_group: str = ""

    @property
    def category(self) -> str:
        return REAL_SPEECH if self.role == VOCALS else REAL_MUSIC

    @property
    def copyright_path(self) -> str:
        return self.copyright_file or f"/usr/share/doc/{self.package}/copyright"

    def list_files(self) -> tuple[list[SourceFile], list[Exclusion]]:
        """The source's files and its listed exclusions (sorted: the order decides nothing random)."""
        listed, excluded = self.lister(Path(self.root))
        files = []
        for file in listed:
            reason = next((why for pattern, why in self.exclude if fnmatch.fnmatchcase(file.item_id, pattern)), None)
            if reason:
                excluded.append(Exclusion(file.location, reason))
            else:
                files.append(file)
        return files, excluded


def with_root(source: Source, root: str | Path, copyright_file: str | Path | None = None) -> Source:
    """The same source read from another root (and copyright file): for tests on files they make."""
    return dataclasses.replace(source, root=str(root),
                               copyright_file=str(copyright_file) if copyright_file else source.copyright_file)


def _sorted_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file())


# --- speech -------------------------------------------------------------------------------------

FISH = {"m": "small-fish", "v": "big-fish"}  # the two heroes, the same two actors in every level


def _fillets_speaker(level: str, stem: str) -> str | None:
    """Who speaks a Fish Fillets line, from its file name; None if the code is ambiguous ('x').

    Names are `<prefix>-<speaker>-<word>` (`dr-m-hruza`), `<speaker>-<word>` (`m-nedame0`, `b1-3`),
    `<word>-<speaker>` (`agenti-m`) or `<word>` (`help7`). Other characters are keyed per level."""
    parts = stem.split("-")
    if len(parts) >= 3:
        code = parts[1]
    elif len(parts) == 2:
        code = parts[1] if parts[1] in (*FISH, "b") else parts[0]
    else:
        code = re.sub(r"\d+$", "", stem)
    if code in ("x", "o"):  # 'x' and 'o' lines are spoken by more than one character or by unknown ones
        return None
    return FISH.get(code, f"{level}:{code}")


def list_fillets(root: Path) -> tuple[list[SourceFile], list[Exclusion]]:
    """Czech dialogue of Fish Fillets NG: only `<level>/cs/` and `share/<set>/cs/` folders."""
    files, excluded = [], []
    for path in sorted({*_sorted_files(root, "*/cs/*.ogg"), *_sorted_files(root, "*/*/cs/*.ogg")}):
        rel = path.relative_to(root).as_posix()
        level = rel.rsplit("/cs/", 1)[0]
        speaker = _fillets_speaker(level, path.stem)
        if speaker is None:
            excluded.append(Exclusion(str(path), "speaker code 'x'/'o' names no single character: "
                                                 "excluded so that no line mixes voices"))
            continue
        files.append(SourceFile(rel, str(path), speaker=speaker))
    return files, excluded


ASTERISK_NON_SPEECH = {"beep", "beeperr", "ascending-2tone", "descending-2tone"}


def list_asterisk(root: Path, language: str) -> tuple[list[SourceFile], list[Exclusion]]:
    """Asterisk prompts of one language: the folder `<language>_<country>_<sex>_<name>/` is one speaker."""
    folders = sorted(p for p in root.glob(f"{language}_*_*_*") if p.is_dir())
    files, excluded = [], []
    for folder in folders:
        speaker = folder.name.split("_", 3)[3]
        for path in _sorted_files(folder, "**/*.g722"):
            rel = path.relative_to(folder).as_posix()
            if rel.startswith("silence/"):
                excluded.append(Exclusion(str(path), "silence/ holds recorded silence, not speech"))
            elif path.stem in ASTERISK_NON_SPEECH:
                excluded.append(Exclusion(str(path), "a tone or beep, not speech"))
            else:
                files.append(SourceFile(f"{folder.name}/{rel}", str(path), speaker=speaker,
                                        licence_path=f"{language}-{rel}"))
    return files, excluded


KLETTRES_EXCLUDED_LANGUAGES = {"hu": "Hungarian recordings carry mains hum"}


def list_klettres(root: Path) -> tuple[list[SourceFile], list[Exclusion]]:
    """KLettres letters and syllables, `<language>/{alpha,syllab}/*.ogg`; one volunteer per language.

    Letters and syllables stay on separate lines (`speaker`) in case two people recorded them."""
    files, excluded = [], []
    for path in _sorted_files(root, "*/alpha/*.ogg") + _sorted_files(root, "*/syllab/*.ogg"):
        language, kind = path.relative_to(root).parts[:2]
        if language in KLETTRES_EXCLUDED_LANGUAGES:
            excluded.append(Exclusion(str(path), KLETTRES_EXCLUDED_LANGUAGES[language]))
            continue
        files.append(SourceFile(path.relative_to(root).as_posix(), str(path), speaker=f"{language}-{kind}",
                                voice=language))
    return sorted(files, key=lambda f: f.item_id), excluded


def list_ktuberling(root: Path) -> tuple[list[SourceFile], list[Exclusion]]:
    """KTuberling words, `<language>/*.{ogg,wav,opus}`: one speaker per language folder."""
    files = [SourceFile(p.relative_to(root).as_posix(), str(p), speaker=p.parent.name)
             for suffix in ("ogg", "wav", "opus") for p in _sorted_files(root, f"*/*.{suffix}")]
    return sorted(files, key=lambda f: f.item_id), []


# --- music --------------------------------------------------------------------------------------

def list_plain(root: Path, pattern: str | tuple[str, ...],
               licence_prefix: str = "") -> tuple[list[SourceFile], list[Exclusion]]:
    """Every file matching `pattern` (or any of several) under `root`, one track each."""
    patterns = (pattern,) if isinstance(pattern, str) else pattern
    paths = sorted({p for one in patterns for p in _sorted_files(root, one)})
    return [SourceFile(p.relative_to(root).as_posix(), str(p),
                       licence_path=licence_prefix + p.relative_to(root).as_posix() if licence_prefix else "*")
            for p in paths], []


def list_warzone(root: Path) -> tuple[list[SourceFile], list[Exclusion]]:
    """Warzone 2100 albums, `<album>/*.opus`, titled from each album's album.json."""
    files = []
    for path in _sorted_files(root, "*/*.opus"):
        titles = {}
        album_json = path.parent / "album.json"
        if album_json.is_file():
            album = json.loads(album_json.read_text(encoding="utf-8"))
            titles = {t["filename"]: f"{album.get('title', '')} - {t.get('title', '')} ({t.get('author', '')})"
                      for t in album.get("tracks", [])}
        files.append(SourceFile(path.relative_to(root).as_posix(), str(path), title=titles.get(path.name, "")))
    return files, []


def list_zip(archive: Path, folder: str, licence_prefix: str) -> tuple[list[SourceFile], list[Exclusion]]:
    """The `*.ogg` members of `folder` in a zip archive (UFO:AI's `0music.pk3`)."""
    if not archive.is_file():
        return [], []
    try:
        with zipfile.ZipFile(archive) as zf:
            members = sorted(m for m in zf.namelist() if m.startswith(folder) and m.lower().endswith(".ogg"))
    except (OSError, zipfile.BadZipFile) as exc:
        raise AudioFileError(f"cannot read the archive {archive} ({exc}); reinstall its package") from None
    return [SourceFile(m, str(archive), member=m, licence_path=licence_prefix + m) for m in members], []


def list_supertux(root: Path) -> tuple[list[SourceFile], list[Exclusion]]:
    """SuperTux `music/**/*.ogg`; the voice clips and the rap in `speech/` are listed as excluded."""
    files = [SourceFile(p.relative_to(root).as_posix(), str(p), licence_path="data/" + p.relative_to(root).as_posix())
             for p in _sorted_files(root, "music/**/*.ogg")]
    excluded = [Exclusion(str(p), "speech/: rapped vocals (tux_rap.ogg) and spoken clips, not accompaniment")
                for p in _sorted_files(root, "speech/*.ogg")]
    return files, excluded


DRASCULA_VOCAL_TRACKS = {1, 2, 29, 30, 31}


def list_drascula(root: Path) -> tuple[list[SourceFile], list[Exclusion]]:
    """Drascula's `audio/track<N>.ogg` (the language folders are links to the same files)."""
    files, excluded = [], []
    tracks = sorted(_sorted_files(root, "track*.ogg"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    for path in tracks:
        if int(re.sub(r"\D", "", path.stem) or 0) in DRASCULA_VOCAL_TRACKS:
            excluded.append(Exclusion(str(path), "sung vocals (tracks 1, 2, 29, 30, 31 hold vocals)"))
        else:
            files.append(SourceFile(path.name, str(path)))
    return files, excluded


def list_fretsonfire(root: Path, guitar_only: bool = False) -> tuple[list[SourceFile], list[Exclusion]]:
    """Frets on Fire song folders: the mix is `song.ogg` + `guitar.ogg`, titled from `song.ini`.

    `guitar_only`: the track is the guitar stem alone, and `song.ogg` (which holds the vocals in
    such packages) is listed as excluded."""
    files, excluded = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        song, guitar = folder / "song.ogg", folder / "guitar.ogg"
        if not song.is_file():
            continue
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(folder / "song.ini", encoding="utf-8")
        title = " - ".join(ini.get("song", k, fallback="") for k in ("artist", "name"))
        if guitar_only:
            excluded.append(Exclusion(str(song), "song.ogg carries the sung (growled) vocals: only the guitar stem "
                                                 "is accompaniment"))
            if guitar.is_file():
                files.append(SourceFile(folder.name, str(guitar), title=f"{title} (guitar stem)"))
            continue
        parts = (str(guitar),) if guitar.is_file() else ()
        files.append(SourceFile(folder.name, str(song), parts=parts, title=title))
    return files, excluded


# --- the registry -------------------------------------------------------------------------------

_FILLETS_EVIDENCE = ("This package is free software; you can redistribute it and/or modify it under the terms "
                     "of the GNU General Public License as published by the Free Software Foundation; "
                     "version 2 dated June, 1991.")
_WARMUX_EVIDENCE = ("This package is free software; you can redistribute it and/or modify it under the terms of "
                    "the GNU General Public License as published by the Free Software Foundation; either version 2 "
                    "of the License, or (at your option) any later version.")
_MULDJORD_EVIDENCE = ("The songs, performances and fret files are all Copyright (c) 2009 El Senator "
                      "<elsenator@gmail.com> and are licenced under the terms of the Creative Commons "
                      "Attribution ShareAlike licence 3.0")
GAME_MUSIC_2 = "game-music-2"  # the ten small packages added together: one sampling group, not ten
_SPECTROGRAM_LINE = "a vibrato-shaped line in its spectrogram may be a voice (not verified by ear): left out"
_SECTOID_EVIDENCE = ("The songs, performances and fret files are all Copyright (c) 2006/2007 Carlos Viola Iborra "
                     "<karuritosu@gmail.com> Permission is hereby granted, free of charge")

SOURCES: tuple[Source, ...] = (
    # train: music first (it matters most), then speech
    Source("warzone2100-music", "warzone2100-music", ACCOMPANIMENT, TRAIN,
           "/usr/share/games/warzone2100/music/albums", list_warzone,
           credits="music by Martin Severn (original soundtrack, 1999) and LupusMechanicus (Legacy and "
                   "Aftermath soundtracks, 2021-2022; also CC-BY-SA-3.0+, see albums/*/license.txt)"),
    Source("ufoai-music", "ufoai-music", ACCOMPANIMENT, TRAIN, "/usr/share/games/ufoai/base/0music.pk3",
           functools.partial(list_zip, folder="music/", licence_prefix="base/"),
           exclude=(("music/PsymongN*.ogg", ("Psymong's 'N' tracks are probably the ones he made for Nexuiz (their "
                                            "copyright stanza credits 'Nexuiz GPLed Data'); nexuiz-music is reserved")),),
           notes="licences per file from the DEP-5 copyright file (base/music/<file>)"),
    Source("colobot-common-sounds", "colobot-common-sounds", ACCOMPANIMENT, TRAIN,
           "/usr/share/games/colobot/music", functools.partial(list_plain, pattern="*.ogg"),
           credits="music by Daniel Roux (original soundtrack) and Emxx52 (Gold Edition)"),
    Source("planetblupi-music-ogg", "planetblupi-music-ogg", ACCOMPANIMENT, TRAIN, "/usr/share/planetblupi/music",
           functools.partial(list_plain, pattern="*.ogg"), cut_loops=True,
           notes="tracks that repeat one loop are cut to one period"),
    Source("pushover-data", "pushover-data", ACCOMPANIMENT, TRAIN, "/usr/share/pushover/themes",
           functools.partial(list_plain, pattern="*.ogg")),
    # second block of train music (2026-12-01): more styles (metal guitar stems, rock, blues, medieval, chiptune)
    Source("hyperrogue-music", "hyperrogue-music", ACCOMPANIMENT, TRAIN, "/usr/share/hyperrogue/music",
           functools.partial(list_plain, pattern="*.ogg", licence_prefix="music/"),
           notes="licences per file from the DEP-5 copyright file (music/<file>)",
           sampling_group=GAME_MUSIC_2),
    Source("megaglest-data", "megaglest-data", ACCOMPANIMENT, TRAIN, "/usr/share/games/megaglest",
           functools.partial(list_plain, pattern=("techs/megapack/factions/*/music/*.ogg",
                                                  "data/core/menu/music/*.ogg")),
           exclude=(("*/indian/music/*", _SPECTROGRAM_LINE), ("*/persian/music/*", _SPECTROGRAM_LINE)),
           notes="faction themes and menu music only (the unit voice lines are not read)",
           sampling_group=GAME_MUSIC_2),
    Source("warmux-data", "warmux-data", ACCOMPANIMENT, TRAIN, "/usr/share/games/warmux/music",
           functools.partial(list_plain, pattern="*/*.ogg"), licence="GPL-2+", licence_evidence=_WARMUX_EVIDENCE,
           attribution="WarMUX team and contributors (data/authors.xml); music by Olivier Militon, Mike Errecart "
                       "and others",
           exclude=(("ingame/exoticux.ogg", _SPECTROGRAM_LINE),),
           sampling_group=GAME_MUSIC_2),
    Source("fillets-ng-data", "fillets-ng-data", ACCOMPANIMENT, TRAIN, "/usr/share/games/fillets-ng/music",
           functools.partial(list_plain, pattern="*.ogg"), licence="GPL-2", licence_evidence=_FILLETS_EVIDENCE,
           attribution="Fish Fillets NG: Ivo Danihelka, Pavel Danihelka, ALTAR interactive (music)",
           sampling_group=GAME_MUSIC_2),
    Source("fretsonfire-songs-muldjord", "fretsonfire-songs-muldjord", ACCOMPANIMENT, TRAIN,
           "/usr/share/games/fretsonfire/data/songs/muldjord", functools.partial(list_fretsonfire, guitar_only=True),
           licence="CC-BY-SA-3.0", licence_evidence=_MULDJORD_EVIDENCE,
           attribution="Muldjord (El Senator <elsenator@gmail.com>), 2009",
           notes="guitar stems only: every song.ogg carries vocals",
           sampling_group=GAME_MUSIC_2),
    Source("asc-music", "asc-music", ACCOMPANIMENT, TRAIN, "/usr/share/games/asc/music",
           functools.partial(list_plain, pattern="*.mp3"),
           sampling_group=GAME_MUSIC_2),
    Source("lincity-ng-data", "lincity-ng-data", ACCOMPANIMENT, TRAIN, "/usr/share/games/lincity-ng/music",
           functools.partial(list_plain, pattern="*/*.ogg"),
           credits="music by pronobozo and Robert van Herk",
           sampling_group=GAME_MUSIC_2),
    Source("frozen-bubble-data", "frozen-bubble-data", ACCOMPANIMENT, TRAIN, "/usr/share/games/frozen-bubble/snd",
           functools.partial(list_plain, pattern="*zik*.ogg"),
           notes="the three music files (*zik*) only, not the sound effects",
           sampling_group=GAME_MUSIC_2),
    Source("extremetuxracer-data", "extremetuxracer-data", ACCOMPANIMENT, TRAIN, "/usr/share/games/etr/music",
           functools.partial(list_plain, pattern="*.ogg"),
           exclude=(("spunkyrace-ks.ogg", _SPECTROGRAM_LINE),),
           sampling_group=GAME_MUSIC_2),
    Source("neverball-common", "neverball-common", ACCOMPANIMENT, TRAIN, "/usr/share/games/neverball/bgm",
           functools.partial(list_plain, pattern="*.ogg"),
           exclude=(("track4.ogg", _SPECTROGRAM_LINE), ("track5.ogg", _SPECTROGRAM_LINE)),
           sampling_group=GAME_MUSIC_2),
    Source("fillets-ng-data-cs", "fillets-ng-data-cs", VOCALS, TRAIN, "/usr/share/games/fillets-ng/sound",
           list_fillets, licence="GPL-2", licence_evidence=_FILLETS_EVIDENCE,
           attribution="Fish Fillets NG: Ivo Danihelka, Pavel Danihelka, ALTAR interactive (Czech voices)",
           notes="speakers from file names: the two fish are global, other characters keyed per level "
                 "(so `voices` may count one actor more than once)"),
    *(Source(f"asterisk-core-sounds-{lang}-g722", f"asterisk-core-sounds-{lang}-g722", VOCALS, TRAIN,
             "/usr/share/asterisk/sounds", functools.partial(list_asterisk, language=lang),
             notes="en and es are both recorded by Allison Smith: the same voice in two sources" if lang in ("en", "es")
             else "")
      for lang in ("en", "es", "fr")),
    Source("klettres-data", "klettres-data", VOCALS, TRAIN, "/usr/share/klettres", list_klettres,
           notes="one volunteer speaker per language assumed (voices = languages)"),
    Source("ktuberling-data", "ktuberling-data", VOCALS, TRAIN, "/usr/share/ktuberling/sounds", list_ktuberling,
           notes="one speaker per language folder; the sr@* folders repeat sr's files (deduplicated)"),
    # heldout: whole packages held back to measure generalisation
    Source("supertux-data", "supertux-data", ACCOMPANIMENT, HELDOUT, "/usr/share/games/supertux2", list_supertux,
           credits="music by Marek 'Wansti' Moeckel, Lukas Nystrand (Mortimer Twang), Asbjoern Andersen (Mystical), "
                   "Jason Lavallée, DJ Gentoo, semajD, treskalle, Chris Huelsbeck, Bart K., remaxim, Chris Leutwyler, "
                   "Forty-Two, Tobias Frei (credits.stxt)"),
    Source("drascula-music", "drascula-music", ACCOMPANIMENT, HELDOUT, "/usr/share/scummvm/drascula/audio",
           list_drascula),
    Source("fretsonfire-songs-sectoid", "fretsonfire-songs-sectoid", ACCOMPANIMENT, HELDOUT,
           "/usr/share/games/fretsonfire/data/songs/sectoid", list_fretsonfire, licence="Expat",
           licence_evidence=_SECTOID_EVIDENCE,
           attribution="Sectoid (Carlos Viola Iborra <karuritosu@gmail.com>), 2006/2007",
           notes="mix = song.ogg + guitar.ogg"),
    *(Source(f"asterisk-core-sounds-{lang}-g722", f"asterisk-core-sounds-{lang}-g722", VOCALS, HELDOUT,
             "/usr/share/asterisk/sounds", functools.partial(list_asterisk, language=lang))
      for lang in ("it", "ru")),
)


def sources_for(split: str, only: list[str] | None = None,
                registry: tuple[Source, ...] = SOURCES) -> list[Source]:
    """The sources of `split` in registry order, restricted to `only` (names) when given."""
    if split not in (TRAIN, HELDOUT):
        raise AudioDataError(f"split {split!r} is not one of {TRAIN!r}, {HELDOUT!r}; pass --split train|heldout")
    chosen = [s for s in registry if s.split == split]
    if only:
        names = {s.name for s in chosen}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise AudioDataError(f"--only {','.join(unknown)}: not a {split} source; choose from "
                                 f"{', '.join(sorted(names))}")
        chosen = [s for s in chosen if s.name in only]
    return chosen
