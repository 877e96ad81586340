"""Licences from Debian copyright files, and the rule that training data allows commercial use and
derivatives (no NC, no ND).

Machine-readable (DEP-5) files are matched per file: the last `Files:` stanza whose pattern matches
wins, as the format says. A free-text copyright file cannot be matched, so its source declares the
licence together with a phrase that must appear in the file (the evidence it was read).
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from isovox.core.errors import LicenceError, ToolMissingError

_RESTRICTIVE = re.compile(r"(?:^|[-_ ])(?:NC|ND)(?:$|[-_ .0-9])|non-?commercial|no-?deriv", re.IGNORECASE)


@dataclass(frozen=True)
class Stanza:
    """One `Files:` paragraph of a DEP-5 copyright file."""

    patterns: tuple[str, ...]
    copyright: tuple[str, ...]
    licence: str


@dataclass(frozen=True)
class Licence:
    """What a source's files are licensed under: the licence expression and the attribution line."""

    licence: str
    attribution: str


def restricts_use(licence: str) -> bool:
    """True if a licence name forbids commercial use or derivatives (CC …-NC-…, …-ND-…)."""
    return _RESTRICTIVE.search(licence) is not None


def _paragraphs(text: str) -> list[dict[str, list[str]]]:
    paragraphs, fields, key = [], {}, None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if fields:
                paragraphs.append(fields)
            fields, key = {}, None
        elif line[0] in " \t" and key is not None:
            fields[key].append(line.strip())
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = [value.strip()] if value.strip() else []
    return paragraphs


def parse_dep5(text: str) -> list[Stanza]:
    """The `Files:` stanzas of a DEP-5 copyright file, in file order."""
    stanzas = []
    for fields in _paragraphs(text):
        if "files" in fields and "license" in fields:
            patterns = tuple(p for line in fields["files"] for p in line.split())
            licence = fields["license"][0] if fields["license"] else ""
            copyright_lines = tuple(line for line in fields.get("copyright", []) if line != ".")
            stanzas.append(Stanza(patterns, copyright_lines, licence))
    return stanzas


def stanza_for(stanzas: list[Stanza], path: str) -> Stanza | None:
    """The stanza that governs `path` (a path as the copyright file writes it): the last match."""
    match = None
    for stanza in stanzas:
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in stanza.patterns):
            match = stanza
    return match


def read_copyright(path: str | Path, package: str) -> str:
    """The text of a package's copyright file; `ToolMissingError` naming the package if absent."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise ToolMissingError(f"{path} not found: the package {package} is not installed; "
                               f"apt-get install {package}") from None


def licence_of(text: str, licence_paths: list[str], declared: str | None, evidence: str,
               attribution: str | None, copyright_path: str) -> Licence:
    """The licence and attribution covering `licence_paths` (DEP-5), or the declared ones (free text)."""
    if not text.startswith("Format:"):
        if declared is None or attribution is None:
            raise LicenceError(f"{copyright_path} is not machine-readable (DEP-5); the source must declare "
                               "its licence, attribution and a phrase of evidence from the file")
        if " ".join(evidence.split()) not in " ".join(text.split()):
            raise LicenceError(f"{copyright_path} no longer says {evidence!r}; read it again and fix the "
                               "source's declared licence")
        return Licence(declared, attribution)
    stanzas = parse_dep5(text)
    upstream = next((f["upstream-name"][0] for f in _paragraphs(text) if f.get("upstream-name")), "")
    licences: list[str] = []
    holders: list[str] = []
    for path in licence_paths:
        stanza = stanza_for(stanzas, path)
        if stanza is None:
            raise LicenceError(f"{copyright_path} has no Files: stanza for {path!r}; fix the source's "
                               "licence path mapping")
        if stanza.licence not in licences:
            licences.append(stanza.licence)
        for holder in (" ".join(c.split()) for c in stanza.copyright):
            if holder not in holders:
                holders.append(holder)
    who = "; ".join(holders)
    return Licence(" AND ".join(licences), f"{upstream}: {who}" if upstream else who)


def refuse_for_training(source_name: str, licence: str) -> None:
    """Raise `LicenceError` if a training source's licence forbids commercial use or derivatives."""
    if restricts_use(licence):
        raise LicenceError(f"source {source_name!r} is licensed {licence}, which forbids commercial use or "
                           "derivatives (NC/ND); it cannot be in the train split: move it to heldout or drop it")
