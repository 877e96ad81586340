"""Held-out generalisation suite: 10 s clips built only from held-back voices, music and soundfont.

Categories (`--clips-per-category` each):
- `sung`: held-out sung vocals over held-out accompaniment (real music and freepats MIDI, alternating);
- `synthetic-speech`: held-out TTS over held-out accompaniment (alternating likewise);
- `real-speech-midi`: held-out recorded speech over freepats MIDI;
- `real-music`: held-out vocals of every kind (in turn) over held-out real produced music.

Inputs are the held-out pools, ``POOLS/{vocals,accompaniment}/<source>/<item>.flac`` with a
``source.json`` per source; every source read must say ``"split": "heldout"`` or the build stops.
MIDI accompaniment is `training.corpus.compose` (drums, bass and other parts; its vocal parts dropped)
rendered by TiMidity++ with the freepats patches, a whole instrument set that training never hears
(training uses FluidR3_GM through fluidsynth). TiMidity always reads /etc/timidity/timidity.cfg too,
which points at FluidR3_GM, so every program and drum note is mapped onto ones freepats defines:
nothing falls through to another font. Vocals get `training.corpus.mix.vocal_effects`, MIDI stems
`instrument_effects`; the 10 s window is where the vocals are active; vocal-to-accompaniment ratio
drawn in −6..+3 dB. Same pools, seed and count: the same suite, bit for bit.

Layout: ``OUT/<category>/<clip>/{vocals,accompaniment,mixture}.wav`` (44.1 kHz stereo 24-bit PCM,
mixture = vocals + accompaniment exactly, also once read as float) and ``OUT/suite.json``; OUT
appears only when complete.

    python benchmarks/heldout_suite.py --pools /work/data/pools-heldout --out /work/data/suite \
        --clips-per-category 10 --seed 2
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from isovox.core.atomic_files import atomic_path
from isovox.core.errors import AudioDataError, AudioFileError, IsovoxError, ToolMissingError
from isovox.training.corpus.compose import Part, compose
from isovox.training.corpus.levels import db_to_gain, rms
from isovox.training.corpus.mix import instrument_effects, vocal_effects
from isovox.training.corpus.synth import SEGMENT_TAIL_S, write_segments_midi

SAMPLE_RATE = 44100
CLIP_SECONDS = 10.0
SUITE_VERSION = 1
CATEGORIES = ("sung", "synthetic-speech", "real-speech-midi", "real-music")
VOCAL_KINDS = {"sung": ("sung",), "synthetic-speech": ("synthetic-speech",),
               "real-speech-midi": ("real-speech",),
               "real-music": ("sung", "synthetic-speech", "real-speech")}
ACCOMPANIMENT_KINDS = {"sung": ("midi", "real-music"), "synthetic-speech": ("midi", "real-music"),
                       "real-speech-midi": ("midi",), "real-music": ("real-music",)}
POOL_CATEGORIES = {"vocals": ("real-speech", "sung", "synthetic-speech"), "accompaniment": ("real-music",)}
RATIO_DB = (-6.0, 3.0)
PEAK_DBFS = (-6.0, -1.0)
FULL_SCALE = 2 ** 23  # 24-bit PCM: integer stems sum exactly (float WAVs carry a timestamped PEAK chunk)
MIDI_STEMS = ("drums", "bass", "other")
MIDI_LEVELS_DB = {"drums": (-9.0, 0.0), "bass": (-9.0, 0.0), "other": (-6.0, 2.0)}  # as mix_track
FREEPATS_CFG = Path("/etc/timidity/freepats.cfg")
MIDI_SOURCE = {
    "name": "isovox-compose-freepats", "role": "accompaniment", "category": "midi", "split": "heldout",
    "licence": "arrangements: MIT (isovox training/corpus/compose.py); patches: GPL-2+ with the "
               "composition exception (freepats)",
    "attribution": "FreePats (freepats.opensrc.org), Debian package freepats; rendered by TiMidity++",
    "renderer": f"timidity -c {FREEPATS_CFG} (programs and drum notes mapped onto freepats' own)"}

Stems = list[tuple[float, list[Part]]]
MidiRenderer = Callable[[Stems, int], list[np.ndarray]]


# --- pools ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PoolSource:
    """One held-out source: its source.json (`meta`) and its FLAC items long enough for a clip."""

    name: str
    role: str
    category: str
    meta: dict
    items: tuple[Path, ...]


def read_source(folder: Path, role: str, clip_samples: int) -> PoolSource:
    """Read `folder/source.json` and its items; refuse any split but "heldout" and any unknown category."""
    path = folder / "source.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AudioFileError(f"cannot read {path} ({exc}); the pool writer must finish its source.json"
                             ) from None
    if meta.get("split") != "heldout":
        raise AudioDataError(f"{path}: split is {meta.get('split')!r}, expected 'heldout'; the suite reads "
                             "only held-back sources: move this source out of --pools or fix its source.json")
    if meta.get("category") not in POOL_CATEGORIES[role]:
        raise AudioDataError(f"{path}: category {meta.get('category')!r} is not one of "
                             f"{POOL_CATEGORIES[role]} for role {role!r}; fix its source.json")
    names = meta.get("item_names")  # the items the pool declares, else every FLAC in the folder
    items = []
    for item in sorted(folder / f"{n}.flac" for n in names) if names else sorted(folder.glob("*.flac")):
        try:
            info = sf.info(str(item))
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise AudioFileError(f"cannot read {item} ({exc}); re-export it or remove it from the pool"
                                 ) from None
        if info.samplerate != SAMPLE_RATE:
            raise AudioDataError(f"{item} is at {info.samplerate} Hz, expected {SAMPLE_RATE}; "
                                 "resample the pool")
        if info.frames >= clip_samples:
            items.append(item)
    return PoolSource(meta.get("name", folder.name), role, meta["category"], meta, tuple(items))


def read_pools(root: Path, clip_samples: int) -> list[PoolSource]:
    """Every source under `root/{vocals,accompaniment}/` that has a source.json (others are still
    being written and are not read), sorted by role and name."""
    if not root.is_dir():
        raise AudioFileError(f"held-out pools folder {root} does not exist; write the pools first "
                             "(POOLS/vocals/<source>/*.flac + source.json) or pass --pools DIR")
    return [read_source(folder, role, clip_samples) for role in ("vocals", "accompaniment")
            for folder in sorted((root / role).glob("*/"))
            if not folder.name.startswith(".") and (folder / "source.json").is_file()]


def check_pools(sources: list[PoolSource], categories: tuple[str, ...], clip_seconds: float) -> None:
    """Raise naming the first vocal or accompaniment kind that a category needs and no source has."""
    have = {(s.role, s.category) for s in sources if s.items}
    for category in categories:
        needs = [("vocals", kind) for kind in VOCAL_KINDS[category]]
        needs += [("accompaniment", kind) for kind in ACCOMPANIMENT_KINDS[category] if kind != "midi"]
        for role, kind in needs:
            if (role, kind) not in have:
                raise AudioFileError(f"category {category!r} needs a held-out {role} source of category "
                                     f"{kind!r} (POOLS/{role}/<source>/source.json with \"category\": "
                                     f"\"{kind}\" and ≥ 1 FLAC of ≥ {clip_seconds:g} s); "
                                     "write that pool first")


# --- freepats MIDI ----------------------------------------------------------------------------

def freepats_programs(cfg: Path = FREEPATS_CFG) -> tuple[frozenset[int], frozenset[int]]:
    """Melodic programs (bank 0) and drum notes (drumset 0) that the freepats config defines."""
    section, tones, drums = "", set(), set()
    for line in cfg.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words and words[0] in ("bank", "drumset"):
            section = f"{words[0]} {words[1] if len(words) > 1 else ''}".strip()
        elif words and words[0].isdigit():
            {"bank 0": tones, "drumset 0": drums}.get(section, set()).add(int(words[0]))
    return frozenset(tones), frozenset(drums)


def to_freepats(part: Part, tones: frozenset[int], drums: frozenset[int]) -> Part:
    """The part on instruments freepats has: the nearest program of the same GM family (else the
    nearest overall), drums on kit 0 without the notes it lacks."""
    if part.is_drum:
        return dataclasses.replace(part, program=0, notes=[n for n in part.notes if n.pitch in drums])
    family = [p for p in tones if p // 8 == part.program // 8] or list(tones)
    return dataclasses.replace(part, program=min(family, key=lambda p: (abs(p - part.program), p)))


def find_timidity() -> str:
    """Path of `timidity`; `ToolMissingError` naming the apt packages if it or freepats is missing."""
    timidity = shutil.which("timidity")
    if timidity is None or not FREEPATS_CFG.is_file():
        raise ToolMissingError(f"timidity or {FREEPATS_CFG} not found; the MIDI accompaniment needs them: "
                               "apt-get install timidity freepats")
    return timidity


def render_freepats(stems: Stems, sample_rate: int) -> list[np.ndarray]:
    """Render each (duration_s, parts) stem with TiMidity++ + freepats in one run; (2, samples) each."""
    timidity = find_timidity()
    tones, drums = freepats_programs()
    segments, offset = [], 0.0
    for duration_s, parts in stems:
        segments.append((offset, [to_freepats(p, tones, drums) for p in parts]))
        offset += duration_s + SEGMENT_TAIL_S
    with tempfile.TemporaryDirectory(prefix="isovox-suite-") as workdir:
        mid, wav = os.path.join(workdir, "stems.mid"), os.path.join(workdir, "stems.wav")
        write_segments_midi(mid, segments, offset)
        proc = subprocess.run([timidity, "-c", str(FREEPATS_CFG), "-s", str(sample_rate), "-Ow",
                               "--output-24bit", "-o", wav, mid], capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not os.path.isfile(wav):
            raise AudioFileError(f"timidity failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}; "
                                 f"check that `timidity -c {FREEPATS_CFG} -Ow -o x.wav x.mid` runs by hand")
        audio = sf.read(wav, dtype="float32", always_2d=True)[0].T
    audio = np.pad(audio, ((0, 0), (0, max(0, round(offset * sample_rate) - audio.shape[1]))))
    return [np.ascontiguousarray(audio[:, round(start * sample_rate):][:, :round(duration * sample_rate)])
            for (start, _), (duration, _) in zip(segments, stems)]


# --- one clip ---------------------------------------------------------------------------------

def active_frames(mono: np.ndarray, sample_rate: int, frame_seconds: float = 0.1) -> np.ndarray:
    """Per 100 ms frame: True where the signal is within 30 dB of its loudest frame."""
    hop = round(frame_seconds * sample_rate)
    n = mono.size // hop
    env = np.sqrt(np.mean(np.square(mono[: n * hop], dtype=np.float64).reshape(n, hop), axis=1))
    return env > env.max() * db_to_gain(-30) if n and env.max() > 0 else np.zeros(n, bool)


def active_window(rng: np.random.Generator, mono: np.ndarray, sample_rate: int, clip_samples: int) -> int:
    """Start sample (0.5 s grid) of a window drawn among those whose share of active 100 ms frames
    is at least 90 % of the best window's."""
    active = active_frames(mono, sample_rate)
    frames, grid = round(clip_samples / sample_rate * 10), 5
    starts = np.arange(0, max(1, active.size - frames + 1), grid)
    share = np.array([active[s:s + frames].mean() for s in starts])
    chosen = starts[share >= 0.9 * share.max()]
    return int(rng.choice(chosen)) * sample_rate // 10


def _pick(rng: np.random.Generator, sources: list[PoolSource], turn: int,
          used: set[Path]) -> tuple[PoolSource, Path]:
    """Source `turn` in rotation, and a random item of it not yet used (any item once all are)."""
    source = sources[turn % len(sources)]
    fresh = [item for item in source.items if item not in used] or list(source.items)
    item = fresh[int(rng.integers(len(fresh)))]
    used.add(item)
    return source, item


def vocal_stem(rng: np.random.Generator, item: Path, effects_seed: list[int],
               clip_samples: int) -> tuple[np.ndarray, float]:
    """The item's active window with `vocal_effects` (run from up to 1 s before it, so compressor
    and reverb are settled): (2, clip_samples) float and the window's offset in s."""
    audio, rate = sf.read(str(item), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    start = active_window(rng, mono, rate, clip_samples)
    lead = min(start, rate)
    wet = vocal_effects(np.random.default_rng(effects_seed), mono[start - lead:start + clip_samples], rate)
    return wet[:, lead:], start / rate


def music_stem(rng: np.random.Generator, item: Path, clip_samples: int) -> tuple[np.ndarray, float]:
    """An active window of a produced track, as it was produced: (2, clip_samples) and its offset in s."""
    audio, rate = sf.read(str(item), dtype="float32", always_2d=True)
    start = active_window(rng, audio.mean(axis=1), rate, clip_samples)
    window = audio[start:start + clip_samples].T
    return np.ascontiguousarray(window if window.shape[0] == 2 else window[[0, 0]]), start / rate


def midi_stem(rng: np.random.Generator, render_midi: MidiRenderer, effects_seed: list[int],
              clip_samples: int) -> tuple[np.ndarray, dict]:
    """A `compose` arrangement without its vocal parts, rendered per stem, with `instrument_effects`
    and mix_track's relative levels (−20 dBFS RMS + drawn dB): (2, clip_samples) and its description."""
    arrangement = compose(rng, clip_samples / SAMPLE_RATE)
    rendered = render_midi([(arrangement.duration_s, arrangement.parts[s]) for s in MIDI_STEMS], SAMPLE_RATE)
    effects_rng = np.random.default_rng(effects_seed)
    levels, total = {}, np.zeros((2, clip_samples), np.float64)
    for stem, audio in zip(MIDI_STEMS, rendered):
        levels[stem] = round(float(effects_rng.uniform(*MIDI_LEVELS_DB[stem])), 2)
        if rms(audio) > 1e-6:
            wet = instrument_effects(effects_rng, audio, SAMPLE_RATE)
            total += wet * (db_to_gain(-20 + levels[stem]) / max(rms(wet), 1e-9))
    description = {**arrangement.description, "stem_levels_db": levels}
    del description["vocal_register"], description["vocal_style"]
    description["programs"] = {s: description["programs"][s] for s in MIDI_STEMS}
    return total, description


def mix(rng: np.random.Generator, vocals: np.ndarray, accompaniment: np.ndarray,
        sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Vocals at a drawn ratio to the accompaniment (RMS where the voice is active), the mixture's
    peak at a drawn level; integer 24-bit stems (int32 counts of 2⁻²³) and their exact sum."""
    ratio_db, peak_db = float(rng.uniform(*RATIO_DB)), float(rng.uniform(*PEAK_DBFS))
    hop = round(0.1 * sample_rate)
    mask = np.repeat(active_frames(vocals.mean(axis=0), sample_rate), hop)
    mask = np.pad(mask, (0, vocals.shape[1] - mask.size))
    a_rms = max(rms(accompaniment[:, mask]), 1e-4)
    vocals = vocals * (a_rms * db_to_gain(ratio_db) / max(rms(vocals[:, mask]), 1e-9))
    scale = db_to_gain(peak_db) * FULL_SCALE / max(float(np.max(np.abs(vocals + accompaniment))), 1e-9)
    v24, a24 = (np.round(x * scale).astype(np.int32) for x in (vocals, accompaniment))
    info = {"vocal_to_accompaniment_db": round(ratio_db, 2), "peak_dbfs": round(peak_db, 2),
            "vocal_active_fraction": round(float(mask.mean()), 3)}
    return v24, a24, v24 + a24, info


# --- the suite --------------------------------------------------------------------------------

def build_clip(seed: int, category: str, index: int, sources: list[PoolSource], used: set[Path],
               render_midi: MidiRenderer, clip_samples: int) -> tuple[dict[str, np.ndarray], dict]:
    """Stems and suite.json record of clip `index` of `category`; a pure function of its arguments."""
    c = CATEGORIES.index(category)
    rng = np.random.default_rng([seed, c, index, 0])
    kinds = VOCAL_KINDS[category]
    kind = kinds[index % len(kinds)]
    voices = [s for s in sources if s.role == "vocals" and s.category == kind and s.items]
    voice, voice_item = _pick(rng, voices, index // len(kinds), used)
    vocals, voice_offset = vocal_stem(rng, voice_item, [seed, c, index, 1], clip_samples)
    accompaniment_kind = ACCOMPANIMENT_KINDS[category][index % len(ACCOMPANIMENT_KINDS[category])]
    if accompaniment_kind == "midi":
        accompaniment, arrangement = midi_stem(rng, render_midi, [seed, c, index, 2], clip_samples)
        backing = {"source": MIDI_SOURCE["name"], "item": f"compose-{seed}-{c}-{index}", "category": "midi",
                   "offset_seconds": 0.0, "arrangement": arrangement,
                   "effects": {"chain": "isovox.training.corpus.mix.instrument_effects per stem",
                               "rng_seed": [seed, c, index, 2]}}
    else:
        bands = [s for s in sources
                 if s.role == "accompaniment" and s.category == accompaniment_kind and s.items]
        band, band_item = _pick(rng, bands, index // len(ACCOMPANIMENT_KINDS[category]), used)
        accompaniment, band_offset = music_stem(rng, band_item, clip_samples)
        backing = {"source": band.name, "item": band_item.stem, "category": band.category,
                   "offset_seconds": band_offset, "effects": "none (as produced)"}
    v24, a24, mixture, levels = mix(rng, vocals, accompaniment, SAMPLE_RATE)
    name = f"{category}-{index:03d}"
    record = {"name": name, "category": category, "path": f"{category}/{name}",
              "seconds": clip_samples / SAMPLE_RATE,
              "vocals": {"source": voice.name, "item": voice_item.stem, "category": voice.category,
                         "offset_seconds": voice_offset,
                         "effects": {"chain": "isovox.training.corpus.mix.vocal_effects",
                                     "rng_seed": [seed, c, index, 1]}},
              "accompaniment": backing, **levels}
    return {"vocals": v24, "accompaniment": a24, "mixture": mixture}, record


def build_suite(pools: Path, out: Path, clips_per_category: int = 10, seed: int = 2,
                clip_seconds: float = CLIP_SECONDS, render_midi: MidiRenderer = render_freepats,
                progress: bool = True) -> dict:
    """Build the suite into `out` (must not exist): clips into a hidden sibling folder, suite.json
    last, then one rename. Returns the manifest."""
    if out.exists():
        raise AudioFileError(f"{out} exists; a suite is never overwritten: remove it or choose another --out")
    if clips_per_category < 1:
        raise AudioDataError(f"--clips-per-category {clips_per_category}: expected ≥ 1")
    clip_samples = round(clip_seconds * SAMPLE_RATE)
    sources = read_pools(pools, clip_samples)
    check_pools(sources, CATEGORIES, clip_seconds)
    if render_midi is render_freepats:
        find_timidity()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, sole_writer=True) as tmp:
        return _write_suite(tmp, pools, sources, clips_per_category, seed, clip_samples, render_midi, progress)


def _write_suite(tmp: Path, pools: Path, sources: list[PoolSource], clips_per_category: int, seed: int,
                 clip_samples: int, render_midi: MidiRenderer, progress: bool) -> dict:
    """Every clip's stems into `tmp`, then suite.json; returns the manifest."""
    from tqdm import tqdm

    used: set[Path] = set()
    records = []
    with tqdm(total=len(CATEGORIES) * clips_per_category, unit="clip", desc="heldout-suite",
              disable=not progress) as bar:
        for category in CATEGORIES:
            for index in range(clips_per_category):
                stems, record = build_clip(seed, category, index, sources, used, render_midi, clip_samples)
                folder = tmp / record["path"]
                folder.mkdir(parents=True)
                for stem, audio in stems.items():
                    # int32 data is full-scale 32-bit to libsndfile: shift the 24-bit counts up
                    sf.write(str(folder / f"{stem}.wav"), audio.T << 8, SAMPLE_RATE, subtype="PCM_24")
                records.append(record)
                bar.update()
    used_sources = [{**s.meta, "role": s.role,
                     "items_used": sum(item in used for item in s.items), "items_long_enough": len(s.items)}
                    for s in sources if any(item in used for item in s.items)]
    if any(r["accompaniment"]["category"] == "midi" for r in records):
        used_sources.append(MIDI_SOURCE)
    manifest = {"suite": "isovox held-out generalisation suite", "version": SUITE_VERSION, "seed": seed,
                "pools": str(pools), "sample_rate": SAMPLE_RATE, "clip_seconds": clip_samples / SAMPLE_RATE,
                "clips_per_category": clips_per_category, "categories": list(CATEGORIES),
                "layout": "<category>/<clip>/{vocals,accompaniment,mixture}.wav, 24-bit PCM stereo; "
                          "mixture = vocals + accompaniment exactly",
                "vocal_to_accompaniment_db_range": list(RATIO_DB), "sources": used_sources, "clips": records}
    (tmp / "suite.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", required=True, type=Path,
                        help="held-out pools root (vocals/, accompaniment/)")
    parser.add_argument("--out", required=True, type=Path, help="suite folder to create (must not exist)")
    parser.add_argument("--clips-per-category", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        manifest = build_suite(args.pools, args.out, args.clips_per_category, args.seed)
    except IsovoxError as exc:
        print(f"heldout_suite.py: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(manifest['clips'])} clips ({len(CATEGORIES)} categories) from "
          f"{len(manifest['sources'])} sources to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
