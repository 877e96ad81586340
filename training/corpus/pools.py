"""Decode the recorded sources into pools: 44.1 kHz FLAC items per source, a source.json each, and
OUT/pools.json last.

    OUT/vocals/<source>/<line>.flac         mono, speech lines of one speaker (`speech_lines`)
    OUT/accompaniment/<source>/<track>.flac stereo, one instrumental track each, silence trimmed
    OUT/<role>/<source>/source.json         licence, attribution, minutes, voices, band edge, exclusions
    OUT/pools.json                          {"split", "generator_version", "sources": [summaries]}

Every file is written atomically; items already on disk are not written again, and a source whose
source.json is complete is skipped, so a rerun finishes what an interrupted one left. Items are
rendered by `pool_items` in `jobs` processes; the output does not depend on their number.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from isovox.core.atomic_files import json_text, write_text
from isovox.core.errors import ToolMissingError
from isovox.training.corpus.decode import probe, read_member, require_program
from isovox.training.corpus.licences import Licence, licence_of, read_copyright, refuse_for_training
from isovox.training.corpus.pool_items import (
    SAMPLE_RATE,
    ItemResult,
    LineJob,
    MeasureJob,
    TrackJob,
    measure_utterance,
    render_line,
    render_track,
)
from isovox.training.corpus.sources import (
    ACCOMPANIMENT,
    SOURCES,
    TRAIN,
    VOCALS,
    Exclusion,
    Source,
    SourceFile,
    sources_for,
)
from isovox.training.corpus.speech_lines import Utterance, plan_lines, slug

GENERATOR_VERSION = 1
VOCAL_WORDS = re.compile(r"\b(vocals?|vox|sung|sings?|singing|singers?|voices?|choirs?|choral|raps?|rapping|"
                         r"lyrics?)\b", re.IGNORECASE)


@dataclass
class PrepareReport:
    """What `prepare_pools` did: the pools.json it wrote, sources skipped, seconds spent per source."""

    manifest: dict
    skipped: list[str] = field(default_factory=list)
    wall_seconds: dict[str, float] = field(default_factory=dict)


# --- one source ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckedSource:
    """A source that is installed and allowed in its split: its files, exclusions so far, licence."""

    source: Source
    files: list[SourceFile]
    excluded: list[Exclusion]
    licence: Licence


def _content_hash(file: SourceFile) -> str:
    if file.member:
        return hashlib.sha1(read_member(file.path, file.member)).hexdigest()
    with open(file.path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def check_source(source: Source) -> CheckedSource:
    """List a source's files, drop byte-identical duplicates, read and check its licence.

    Raises `ToolMissingError` (naming `apt-get install <package>`) if it is not installed, and
    `LicenceError` if it is a train source whose licence forbids commercial use or derivatives."""
    install = f"apt-get install {source.package}"
    if not os.path.exists(source.root):
        raise ToolMissingError(f"source {source.name}: {source.root} not found; install it: {install}")
    text = read_copyright(source.copyright_path, source.package)
    listed, excluded = source.list_files()
    if not listed:
        raise ToolMissingError(f"source {source.name}: no recordings under {source.root}; reinstall it: {install}")
    files, first_of = [], {}
    for file in listed:
        digest = _content_hash(file)
        if digest in first_of:
            excluded.append(Exclusion(file.location, f"identical to {first_of[digest]}"))
        else:
            first_of[digest] = file.location
            files.append(file)
    licence = licence_of(text, [f.licence_path for f in files], source.licence, source.licence_evidence,
                         source.attribution, source.copyright_path)
    if source.split == TRAIN:
        refuse_for_training(source.name, licence.licence)
    if source.credits:
        licence = Licence(licence.licence, f"{licence.attribution}; {source.credits}")
    return CheckedSource(source, files, excluded, licence)


def vocal_word(file: SourceFile, tags: dict[str, str]) -> str | None:
    """The first field (file name, title or a tag) that names vocals, voice, choir, rap or lyrics."""
    for where, text in (("file name", file.item_id), ("title", file.title), *tags.items()):
        found = VOCAL_WORDS.search(text.replace("_", " "))
        if found:
            return f"{where} says {found.group(0)!r}: {text.strip()[:80]!r}"
    return None


def _probe_file(file: SourceFile) -> dict:
    """ffprobe tags and seconds of a file, its zip member (from a temp file: a pipe has no duration) and parts."""
    if file.member:
        with tempfile.TemporaryDirectory(prefix="isovox-probe-") as tmp:
            member = Path(tmp) / ("member" + Path(file.member).suffix)
            member.write_bytes(read_member(file.path, file.member))
            info = probe(member, what=file.location)
    else:
        info = probe(file.path)
    for part in file.parts:
        part_info = probe(part)
        info["tags"].update({f"{Path(part).name}:{k}": v for k, v in part_info["tags"].items()})
    return info


class ItemLog:
    """`.items.jsonl` in a source folder: one line per finished item, so a resumed run knows the items
    already written (their length, band edge and notes) without decoding them again."""

    def __init__(self, folder: Path):
        self.path = folder / ".items.jsonl"
        self.done: dict[str, ItemResult] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    fields = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by an interrupted run
                    continue
                excluded = fields.pop("excluded", None)
                result = ItemResult(**fields, excluded=Exclusion(**excluded) if excluded else None)
                self.done[result.item] = result

    def finished(self, item: str, out_path: str) -> ItemResult | None:
        """The logged result of `item` if its file is on disk (or it was excluded), else None."""
        result = self.done.get(item)
        if result is None or (result.excluded is None and not os.path.exists(out_path)):
            return None
        return result

    def add(self, result: ItemResult) -> None:
        fields = {k: v for k, v in vars(result).items() if k != "excluded"}
        if result.excluded is not None:
            fields["excluded"] = vars(result.excluded)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(fields, ensure_ascii=False) + "\n")
        self.done[result.item] = result


def _run(executor: Executor | None, fn: Callable, jobs: list, weights: list[float], desc: str,
         progress: bool) -> list:
    """`fn` over `jobs` (results in job order), in `executor` if given, with a progress bar in audio
    seconds (`weights`: each job's)."""
    from tqdm import tqdm

    results = []
    chunksize = max(1, len(jobs) // 64)
    mapped = executor.map(fn, jobs, chunksize=chunksize) if executor else map(fn, jobs)
    with tqdm(total=round(sum(weights)), unit="s", desc=desc, disable=not progress, leave=False) as bar:
        for result, weight in zip(mapped, weights):
            results.append(result)
            bar.update(round(weight))
    return results


def _render_logged(executor: Executor | None, fn: Callable, jobs: list, weights: list[float], desc: str,
                   progress: bool, log: ItemLog) -> list[ItemResult]:
    """Results of `fn` (render_track / render_line) over `jobs`, reusing items the log has finished."""
    names = [Path(job.out_path).stem for job in jobs]
    done = {name: log.finished(name, job.out_path) for name, job in zip(names, jobs)}
    todo = [(job, w) for name, job, w in zip(names, jobs, weights) if done[name] is None]
    fresh = iter(_run(executor, fn, [j for j, _ in todo], [w for _, w in todo], desc, progress))
    results = []
    for name in names:
        result = done[name]
        if result is None:
            result = next(fresh)
            log.add(result)
        results.append(result)
    return results


def _is_complete(folder: Path) -> bool:
    meta_path = folder / "source.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    names = meta.get("item_names", [])
    return (meta.get("generator_version") == GENERATOR_VERSION and len(names) == meta.get("items")
            and all((folder / f"{name}.flac").is_file() for name in names))


def _write_json(path: Path, data: dict) -> None:
    """Write atomically (temp file, then rename); leave the file alone if it already says the same."""
    text = json_text(data)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    write_text(path, text)


def _render_music(checked: CheckedSource, folder: Path, executor: Executor | None, progress: bool,
                  log: ItemLog) -> tuple[list[ItemResult], list[Exclusion], list[str]]:
    excluded, jobs, seconds = [], [], []
    for file in checked.files:
        info = _probe_file(file)
        reason = vocal_word(file, info["tags"])
        if reason:
            excluded.append(Exclusion(file.location, f"tags name vocals: {reason}"))
            continue
        jobs.append(TrackJob(file, str(folder / f"{slug(str(Path(file.item_id).with_suffix('')))}.flac"),
                             checked.source.cut_loops))
        seconds.append(info["seconds"])
    results = _render_logged(executor, render_track, jobs, seconds, checked.source.name, progress, log)
    return results, excluded, []


def _render_speech(checked: CheckedSource, folder: Path, executor: Executor | None, progress: bool,
                   log: ItemLog) -> tuple[list[ItemResult], list[Exclusion], list[str]]:
    name = checked.source.name
    cache_dir = folder / ".cache"  # trimmed utterances between measuring and rendering; removed when done
    cache_dir.mkdir(exist_ok=True)
    measured = _run(executor, measure_utterance, [MeasureJob(f, str(cache_dir)) for f in checked.files],
                    [1.0] * len(checked.files), f"{name} (measuring, files)", progress)
    excluded = [m for m in measured if isinstance(m, Exclusion)]
    plans, short = plan_lines(name, [m for m in measured if isinstance(m, Utterance)])
    jobs = [LineJob(plan, str(folder / f"{plan.name}.flac"), str(cache_dir)) for plan in plans]
    results = _render_logged(executor, render_line, jobs, [p.seconds for p in plans], name, progress, log)
    shutil.rmtree(cache_dir)
    voiced = sum(p.voiced_seconds for p in plans) / max(sum(p.seconds for p in plans), 1e-9)
    return results, excluded + short, [f"voice active {100 * voiced:.0f}% of the line time"]


def prepare_source(checked: CheckedSource, out: Path, executor: Executor | None, progress: bool) -> dict:
    """Render one source into OUT/<role>/<name>/ (unless complete) and return its source.json."""
    source = checked.source
    folder = out / source.role / source.name
    if _is_complete(folder):
        return json.loads((folder / "source.json").read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    render = _render_speech if source.role == VOCALS else _render_music
    results, excluded, render_notes = render(checked, folder, executor, progress, ItemLog(folder))
    items = [r for r in results if r.excluded is None]
    excluded = checked.excluded + excluded + [r.excluded for r in results if r.excluded is not None]
    keep = {f"{r.item}.flac" for r in items}
    for stale in folder.glob("*.flac"):  # left by an earlier run whose plan differed
        if stale.name not in keep:
            stale.unlink()
    edges = sorted(r.bandwidth_hz for r in items)
    notes = ([source.notes] if source.notes else []) + render_notes + [r.note for r in results if r.note]
    if edges:
        notes.append(f"item band edges {edges[0]:.0f}–{edges[-1]:.0f} Hz (bandwidth_hz is the median; "
                     "highest frequency within 70 dB of the spectrum's peak)")
    meta = {
        "name": source.name, "role": source.role, "split": source.split, "category": source.category,
        "package": source.package, "licence": checked.licence.licence, "licence_file": source.copyright_path,
        "attribution": checked.licence.attribution,
        "minutes": round(sum(r.seconds for r in items) / 60.0, 2), "items": len(items),
        "voices": len({r.voice for r in items}) if source.role == VOCALS else None,
        "bandwidth_hz": round(float(np.median(edges))) if edges else None,
        "excluded": [{"file": e.file, "reason": e.reason} for e in excluded],
        "notes": "; ".join(notes),
        "generator_version": GENERATOR_VERSION, "sample_rate": SAMPLE_RATE,
        "item_names": sorted(r.item for r in items)}
    if source.sampling_group:
        meta["sampling_group"] = source.sampling_group
    _write_json(folder / "source.json", meta)
    return meta


# --- all sources --------------------------------------------------------------------------------

def _summary(meta: dict) -> dict:
    keys = ("name", "role", "category", "split", "package", "licence", "minutes", "items", "voices", "bandwidth_hz")
    return {**{k: meta.get(k) for k in keys}, "path": f"{meta['role']}/{meta['name']}",
            "excluded": len(meta.get("excluded", []))}


def write_manifest(out: Path, split: str) -> dict:
    """OUT/pools.json from every complete source.json of `split` under OUT (others' sources too)."""
    summaries = []
    for role in (VOCALS, ACCOMPANIMENT):
        for meta_path in sorted((out / role).glob("*/source.json")):
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("split") == split:
                summaries.append(_summary(meta))
    manifest = {"split": split, "generator_version": GENERATOR_VERSION, "sources": summaries}
    _write_json(out / "pools.json", manifest)
    return manifest


def prepare_pools(out: str | os.PathLike, split: str, jobs: int = 1, only: list[str] | None = None,
                  skip_missing: bool = False, registry: tuple[Source, ...] = SOURCES, progress: bool = True,
                  on_skip: Callable[[str], None] | None = None) -> PrepareReport:
    """Decode every source of `split` (or `only` those) into pools under `out`, then write pools.json.

    All sources are checked (installed, licence) before anything is decoded. A missing one raises
    `ToolMissingError`, or with `skip_missing` is reported through `on_skip` and left out."""
    out = Path(out)
    require_program("ffmpeg")
    require_program("ffprobe")
    checked, report = [], PrepareReport(manifest={})
    for source in sources_for(split, only, registry):
        try:
            checked.append(check_source(source))
        except ToolMissingError as exc:
            if not skip_missing:
                raise
            report.skipped.append(source.name)
            if on_skip:
                on_skip(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    executor = ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        for item in checked:
            start = time.perf_counter()
            prepare_source(item, out, executor, progress)
            report.wall_seconds[item.source.name] = time.perf_counter() - start
    finally:
        if executor:
            executor.shutdown(cancel_futures=True)
    report.manifest = write_manifest(out, split)
    return report
