"""Render the corpus: plan tracks from a seed, render batches (in parallel), write the MUSDB18-HQ layout.

Layout: OUT/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav (16-bit PCM, stereo) and
OUT/corpus.json, written last: its presence means the corpus is complete.
"""
from __future__ import annotations

import collections
import os
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import soundfile as sf
from isovox.core.atomic_files import atomic_path, write_json
from isovox.core.errors import AudioFileError
from isovox.training.corpus.compose import Arrangement, Part, compose
from isovox.training.corpus.mix import instrument_effects, mix_track, place_phrases, vocal_effects
from isovox.training.corpus.synth import render_midi_segments, render_phrase
from isovox.training.corpus.tools import SOUNDFONT_PATH, Tools, find_tools

GENERATOR_VERSION = 1
BATCH_TRACKS = 4  # tracks per fluidsynth run; fixed so the output does not depend on --jobs
MIDI_STEMS = ("drums", "bass", "other", "vocals")  # rendered by fluidsynth, in this order per track
GM_NAMES = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel",
    "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ",
    "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion", "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar",
    "Guitar Harmonics", "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1",
    "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice",
    "Orchestra Hit", "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section",
    "Synth Brass 1", "Synth Brass 2", "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe",
    "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle",
    "Shakuhachi", "Whistle", "Ocarina", "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)",
    "Lead 4 (chiff)", "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)", "FX 1 (rain)", "FX 2 (soundtrack)",
    "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)",
    "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum",
    "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring",
    "Helicopter", "Applause", "Gunshot")
ACOUSTIC_KIT_PROGRAMS = (0, 8, 16)  # GM Standard, Room, Power: what a recorded rock kit stands in for
DRUM_KIT_NAMES = {0: "Standard", 8: "Room", 16: "Power", 24: "Electronic", 25: "TR-808", 32: "Jazz",
                  40: "Brush", 48: "Orchestra"}


@dataclass(frozen=True)
class CorpusSettings:
    """What determines the corpus: same settings, same audio (independent of the number of jobs)."""

    minutes: float
    seed: int
    sample_rate: int = 44100
    test_fraction: float = 0.1
    min_track_seconds: float = 20.0
    max_track_seconds: float = 40.0
    soundfont: str = SOUNDFONT_PATH   # General MIDI font of the instruments
    drum_soundfonts: tuple[str, ...] = ()  # recorded kits that play the acoustic GM kits, in turn per track


@dataclass(frozen=True)
class TrackSpec:
    """One planned track: its index (seeds its generator), folder name, split and length in seconds."""

    index: int
    name: str
    split: str
    duration_s: float


def plan_tracks(settings: CorpusSettings) -> list[TrackSpec]:
    """Track lengths until `minutes` are reached, and a random `test_fraction` of them held out."""
    rng = np.random.default_rng([settings.seed, 0])
    durations: list[float] = []
    while sum(durations) < settings.minutes * 60.0:
        durations.append(round(float(rng.uniform(settings.min_track_seconds, settings.max_track_seconds)), 2))
    n = len(durations)
    n_test = round(n * settings.test_fraction)
    if settings.test_fraction > 0 and n >= 2:
        n_test = min(max(n_test, 1), n - 1)
    test = {int(i) for i in rng.choice(n, n_test, replace=False)} if n_test else set()
    return [TrackSpec(i, f"isovox-s{settings.seed}-{i:05d}", "test" if i in test else "train", d)
            for i, d in enumerate(durations)]


def _write_track(out_dir: str, spec: TrackSpec, stems: dict[str, np.ndarray], sample_rate: int) -> None:
    """Write one track folder atomically (temp folder, then rename)."""
    with atomic_path(os.path.join(out_dir, spec.split, spec.name), sole_writer=True) as tmp:
        try:
            tmp.mkdir()
            for name, audio in stems.items():
                sf.write(tmp / f"{name}.wav", audio.T, sample_rate, subtype="PCM_16")
        except (OSError, RuntimeError) as exc:
            raise AudioFileError(f"cannot write {tmp}: {exc}; check free disk space and permissions") from exc


def drums_soundfont(tools: Tools, track_index: int, drum_parts: list[Part]) -> str:
    """The font of a track's drum stem: a recorded kit (the next one per track) where its kits are all
    acoustic; electronic, jazz, brush and orchestral kits, and every run without kits, stay General MIDI."""
    if tools.drum_soundfonts and drum_parts and all(p.program in ACOUSTIC_KIT_PROGRAMS for p in drum_parts):
        return tools.drum_soundfonts[track_index % len(tools.drum_soundfonts)]
    return tools.soundfont


def render_batch(job: tuple[str, CorpusSettings, Tools, list[TrackSpec]]) -> list[dict]:
    """Render and write a batch of tracks (one fluidsynth run); returns one summary dict per track."""
    out_dir, settings, tools, specs = job
    sr = settings.sample_rate
    rngs = [np.random.default_rng([settings.seed, 1, spec.index]) for spec in specs]
    arrangements: list[Arrangement] = [compose(rng, spec.duration_s) for rng, spec in zip(rngs, specs)]
    summaries = []
    with tempfile.TemporaryDirectory(prefix="isovox-corpus-") as workdir:
        midi_stems = [(a.duration_s, a.parts[s]) for a in arrangements for s in MIDI_STEMS]
        kits = [drums_soundfont(tools, spec.index, a.parts["drums"]) for spec, a in zip(specs, arrangements)]
        fonts = [kit if s == "drums" else tools.soundfont for kit in kits for s in MIDI_STEMS]
        rendered = render_midi_segments(tools, workdir, midi_stems, sr, fonts)
        for k, (spec, arr, rng, kit) in enumerate(zip(specs, arrangements, rngs, kits)):
            drums, bass, other, gm_voice = rendered[4 * k: 4 * k + 4]
            n = drums.shape[1]
            phrases = [(p.start_s, p.gain_db, render_phrase(tools, workdir, p, sr)) for p in arr.phrases]
            vocals = vocal_effects(rng, place_phrases(phrases, n, sr), sr)
            if arr.parts["vocals"]:
                peak = float(np.max(np.abs(gm_voice)))
                level = float(rng.uniform(0.2, 0.8)) if phrases else 0.7
                vocals = vocals + instrument_effects(rng, gm_voice * (level / max(peak, 1e-9)), sr)
            stems = {"drums": instrument_effects(rng, drums, sr), "bass": instrument_effects(rng, bass, sr),
                     "other": instrument_effects(rng, other, sr), "vocals": vocals}
            ints, levels = mix_track(rng, stems, sr)
            _write_track(out_dir, spec, ints, sr)
            sources = {p.source for p in arr.phrases} | ({"gm-voice-patch"} if arr.parts["vocals"] else set())
            summaries.append({"name": spec.name, "split": spec.split, "seconds": spec.duration_s,
                              **arr.description, "drums_soundfont": os.path.basename(kit),
                              "vocal_sources": sorted(sources),
                              "voices": sorted({p.voice for p in arr.phrases}), **levels})
    return summaries


def _tool_versions(tools: Tools) -> dict[str, str]:
    versions = {}
    for name, program in (("fluidsynth", tools.fluidsynth), ("espeak-ng", tools.espeak)):
        proc = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
        versions[name] = (proc.stdout.strip().splitlines() or ["unknown"])[0]
    versions["festival"] = "text2wave, voice kal_diphone"
    return versions


def _usage(summaries: list[dict]) -> dict:
    programs: dict[str, collections.Counter] = {s: collections.Counter() for s in MIDI_STEMS}
    voices: collections.Counter = collections.Counter()
    sources: collections.Counter = collections.Counter()
    for s in summaries:
        for stem, progs in s["programs"].items():
            for p in progs:
                programs[stem][DRUM_KIT_NAMES.get(p, str(p)) if stem == "drums" else GM_NAMES[p]] += 1
        voices.update(s["voices"])
        sources.update(s["vocal_sources"])
    return {"instruments": {k: dict(v.most_common()) for k, v in programs.items()},
            "voices": dict(voices.most_common()), "vocal_sources": dict(sources.most_common()),
            "modes": dict(collections.Counter(s["mode"] for s in summaries).most_common())}


def make_corpus(out_dir: str, settings: CorpusSettings, jobs: int = 1, progress: bool = True) -> dict:
    """Render the whole corpus into `out_dir` (must not hold a corpus yet); returns the manifest."""
    from tqdm import tqdm

    tools = find_tools(settings.soundfont, settings.drum_soundfonts)
    splits = [os.path.join(out_dir, s) for s in ("train", "test")]
    if os.path.exists(os.path.join(out_dir, "corpus.json")) or any(
            os.path.isdir(s) and os.listdir(s) for s in splits):
        raise AudioFileError(f"{out_dir} already holds a corpus; choose an empty or new folder "
                             "(a corpus is never overwritten)")
    specs = plan_tracks(settings)
    for split in ("train", "test"):
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    batches = [(out_dir, settings, tools, specs[i:i + BATCH_TRACKS])
               for i in range(0, len(specs), BATCH_TRACKS)]
    summaries: list[dict] = []
    total_s = sum(s.duration_s for s in specs)
    with tqdm(total=round(total_s), unit="s", desc="make-corpus (audio seconds)",
              disable=not progress) as bar:
        if jobs <= 1:
            results = map(render_batch, batches)
            for batch in results:
                summaries += batch
                bar.update(round(sum(t["seconds"] for t in batch)))
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for batch in pool.map(render_batch, batches):
                    summaries += batch
                    bar.update(round(sum(t["seconds"] for t in batch)))
    split_hours = {sp: round(sum(t["seconds"] for t in summaries if t["split"] == sp) / 3600, 4)
                   for sp in ("train", "test")}
    ratios = [t["vocal_to_accompaniment_db"] for t in summaries]
    ratio_stats = ({"min": min(ratios), "max": max(ratios), "mean": round(float(np.mean(ratios)), 2)}
                   if ratios else {})
    manifest = {
        "generator": "isovox make-corpus", "generator_version": GENERATOR_VERSION,
        "settings": asdict(settings),
        "seed": settings.seed, "track_count": len(summaries),
        "track_counts": {sp: sum(t["split"] == sp for t in summaries) for sp in ("train", "test")},
        "hours": round(total_s / 3600, 4), "split_hours": split_hours,
        "layout": "MUSDB18-HQ: {train,test}/<track>/{mixture,vocals,drums,bass,other}.wav, 16-bit PCM stereo",
        "sources": {"soundfont": tools.soundfont, "drum_soundfonts": list(tools.drum_soundfonts),
                    "espeak": "espeak-ng voices (language+variant)",
                    "festival": "festival kal_diphone (text2wave, singing mode and speech)",
                    "tools": _tool_versions(tools)},
        "vocal_to_accompaniment_db": ratio_stats,
        "instrumental_tracks": sum(not t["vocal_sources"] for t in summaries),
        "usage": _usage(summaries), "tracks": summaries}
    write_json(os.path.join(out_dir, "corpus.json"), manifest)
    return manifest
