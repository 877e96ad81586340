"""Quality benchmark: vocals SDR (museval, MUSDB18 convention) and SI-SDR of separation methods on
held-out clips, beside a floor (the mixture), a classic baseline (REPET-SIM) and oracle ceilings.

Data: any folder in the MUSDB18-HQ layout — ``<root>/[test|train/]<track>/{mixture,vocals}.wav`` —
is searched for track folders. Each track is cut to a clip of `clip_seconds` (the 1 s-aligned window
with the most vocal energy; museval is slow: several seconds per clip and method) and every method
estimates its vocals from the clip's mixture. Scores: median over 1 s frames per clip, then median
over clips. Methods are callables ``Clip -> (channels, samples) vocals estimate``.
A held-out suite (`benchmarks/heldout_suite.py`: ``<root>/<category>/<clip>/`` and ``suite.json``)
is read with its categories, and every method is also scored per category.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from isovox.core.errors import AudioDataError, AudioFileError
from isovox.core.masks import extend_to_spectrum, ideal_ratio_mask
from isovox.core.metrics import median_over_tracks, sdr_museval, si_sdr
from isovox.core.stft import StftConfig, istft, stft
from isovox.export.onnx_run import model_output

FLOOR = "mixture (floor)"
REPET = "REPET-SIM"
ORACLE = "oracle IRM, mixture phase (ceiling)"
ORACLE_GL = "oracle IRM, Griffin-Lim phase"
DEFAULT_CLIP_SECONDS = 20.0
GRIFFINLIM_ITERATIONS = 32


@dataclass(frozen=True)
class Clip:
    """One evaluation clip: mixture and true vocals, (channels, samples) float32 at `sample_rate`;
    `category` is its suite category ("" outside a suite)."""

    name: str
    sample_rate: int
    mixture: np.ndarray
    vocals: np.ndarray
    start_seconds: float
    category: str = ""


Method = Callable[[Clip], np.ndarray]


def find_tracks(root: str | os.PathLike) -> list[Path]:
    """Track folders (holding mixture.wav and vocals.wav) at `root`, or up to two levels below, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise AudioFileError(f"quality data folder {str(root)!r} does not exist; pass a folder in the "
                             "MUSDB18-HQ layout (test/<track>/mixture.wav, vocals.wav)")
    candidates = [root, *root.glob("*"), *root.glob("*/*")]
    tracks = sorted(p for p in candidates if (p / "mixture.wav").is_file() and (p / "vocals.wav").is_file())
    if not tracks:
        raise AudioFileError(f"no track folders with mixture.wav and vocals.wav under {str(root)!r}; "
                             "pass a folder in the MUSDB18-HQ layout")
    return tracks


def _read(path: Path, start: int = 0, frames: int = -1) -> tuple[np.ndarray, int]:
    import soundfile

    try:
        data, sample_rate = soundfile.read(str(path), start=start, frames=frames, dtype="float32",
                                           always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFileError(f"cannot read {str(path)!r} ({exc}); pass a readable WAV/FLAC file") from None
    return np.ascontiguousarray(data.T), int(sample_rate)


def vocal_window(vocals: np.ndarray, sample_rate: int, clip_seconds: float) -> int:
    """Start sample of the 1 s-aligned window of `clip_seconds` with the most vocal energy."""
    clip = round(clip_seconds * sample_rate)
    if clip <= 0 or clip >= vocals.shape[1]:
        return 0
    seconds = vocals.shape[1] // sample_rate
    energy = np.array([np.sum(vocals[:, s * sample_rate:(s + 1) * sample_rate] ** 2) for s in range(seconds)])
    span = math.ceil(clip_seconds)
    last = (vocals.shape[1] - clip) // sample_rate
    sums = [energy[s:s + span].sum() for s in range(last + 1)]
    return int(np.argmax(sums)) * sample_rate


def load_clip(track: Path, root: str | os.PathLike, clip_seconds: float = DEFAULT_CLIP_SECONDS) -> Clip:
    """Cut `track` (a folder with mixture.wav and vocals.wav) to its most vocal window of
    `clip_seconds` (0 = the whole track). The clip's name is the track's path under `root`."""
    vocals, sample_rate = _read(track / "vocals.wav")
    start = vocal_window(vocals, sample_rate, clip_seconds) if clip_seconds > 0 else 0
    length = vocals.shape[1] - start if clip_seconds <= 0 else min(round(clip_seconds * sample_rate),
                                                                   vocals.shape[1] - start)
    mixture, mixture_rate = _read(track / "mixture.wav", start, length)
    if mixture_rate != sample_rate or mixture.shape != (vocals.shape[0], length):
        raise AudioDataError(f"{track}: mixture.wav ({mixture_rate} Hz, {mixture.shape}) does not match "
                             f"vocals.wav ({sample_rate} Hz); the stems of a track must align")
    name = track.relative_to(root).as_posix() if track != Path(root) else track.name
    return Clip(name, sample_rate, mixture, vocals[:, start:start + length].copy(), start / sample_rate)


def suite_categories(root: str | os.PathLike) -> dict[str, str]:
    """Clip path → category from `root/suite.json` (a held-out suite), or {} for other data."""
    path = Path(root) / "suite.json"
    if not path.is_file():
        return {}
    try:
        clips = json.loads(path.read_text(encoding="utf-8"))["clips"]
        return {clip["path"]: clip["category"] for clip in clips}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AudioFileError(f"cannot read the categories of {str(path)!r} ({exc!r}); rebuild the suite "
                             "with benchmarks/heldout_suite.py") from None


def load_clips(root: str | os.PathLike, clip_seconds: float = DEFAULT_CLIP_SECONDS,
               max_tracks: int = 0) -> tuple[list[Clip], list[str]]:
    """Clips of the first `max_tracks` (0 = all) tracks under `root`, and the names of those skipped
    because their vocals are all zeros (instrumentals: BSS Eval cannot score them)."""
    tracks = find_tracks(root)
    if max_tracks > 0:
        tracks = tracks[:max_tracks]
    categories = suite_categories(root)
    clips, skipped = [], []
    for track in tracks:
        clip = load_clip(track, root, clip_seconds)
        clip = replace(clip, category=categories.get(clip.name, ""))
        if np.any(clip.vocals):
            clips.append(clip)
        else:
            skipped.append(clip.name)
    if not clips:
        raise AudioDataError(f"every track under {str(root)!r} is instrumental; the benchmark needs vocals")
    return clips, skipped


# --- reference methods ------------------------------------------------------------------------

def mixture_floor(clip: Clip) -> np.ndarray:
    """The mixture itself as the vocals estimate: the score any method must beat."""
    return clip.mixture


def repet_sim(clip: Clip, n_fft: int = 2048, hop_samples: int = 512, margin: float = 10.0,
              power: float = 2.0) -> np.ndarray:
    """REPET-SIM (Rafii & Pardo 2012) as in librosa's vocal separation example: the repeating
    accompaniment is the median of each frame's nearest neighbours (cosine similarity, ≥ 2 s apart)
    in the magnitude spectrogram; the vocals get the soft mask of what does not repeat."""
    import librosa

    cfg = StftConfig(clip.sample_rate, n_fft, hop_samples)
    spectrum = stft(clip.mixture, cfg)
    magnitude = np.abs(spectrum)
    frames = magnitude.shape[-1]
    width = min(round(2.0 * clip.sample_rate / hop_samples), max(1, (frames - 1) // 3))
    masks = []
    for channel in magnitude:
        repeating = librosa.decompose.nn_filter(channel, aggregate=np.median, metric="cosine", width=width)
        repeating = np.minimum(channel, repeating)
        masks.append(librosa.util.softmask(channel - repeating, margin * repeating, power=power))
    return istft(spectrum * np.stack(masks), cfg, clip.mixture.shape[1])


def _oracle_spectra(clip: Clip, cfg: StftConfig) -> tuple[np.ndarray, np.ndarray]:
    mixture = stft(clip.mixture, cfg)
    vocals = stft(clip.vocals, cfg)
    mask = ideal_ratio_mask(vocals, mixture - vocals)
    return mixture, mixture * mask


def oracle_irm(clip: Clip, cfg: StftConfig | None = None) -> np.ndarray:
    """Ideal ratio mask |V| / (|V| + |A|) from the true stems, on isovox's STFT, mixture phase:
    the ceiling of any mask model with this STFT."""
    cfg = cfg or StftConfig(sample_rate=clip.sample_rate)
    _, estimate = _oracle_spectra(clip, cfg)
    return istft(estimate, cfg, clip.mixture.shape[1])


def oracle_irm_griffinlim(clip: Clip, cfg: StftConfig | None = None,
                          iterations: int = GRIFFINLIM_ITERATIONS) -> np.ndarray:
    """The oracle mask's magnitude with Griffin-Lim phase (isovox.core.phase, fast GLA from the
    mixture phase): how much (or little) phase retrieval adds to a perfect magnitude."""
    from isovox.core.phase import griffin_lim

    cfg = cfg or StftConfig(sample_rate=clip.sample_rate)
    mixture, estimate = _oracle_spectra(clip, cfg)
    refined, _ = griffin_lim(np.abs(estimate), mixture, cfg, iterations=iterations)
    return istft(refined, cfg, clip.mixture.shape[1])


# --- isovox methods ---------------------------------------------------------------------------

def separator_method(model: str | os.PathLike, device: str = "auto", phase: str = "mixture",
                     spatial_wiener: bool = True) -> Method:
    """isovox offline: `Separator(model, device, phase, spatial_wiener).separate(mixture, sample_rate)`."""
    from isovox.host.separator import Separator

    separator = Separator(model, device, phase=phase, spatial_wiener=spatial_wiener)
    return lambda clip: separator.separate(clip.mixture, clip.sample_rate)


def streaming_method(model: str | os.PathLike, device: str = "auto", phase: str = "mixture",
                     block_samples: int = 512, spatial_wiener: bool = True) -> Method:
    """isovox streaming: the mixture in blocks through a `StreamingSeparator`, then advanced by its
    `latency_samples` so it aligns with the reference (BSS Eval's 512-tap filters would not absorb it)."""
    from isovox.host.streaming import StreamingSeparator

    cache: dict[tuple[int, int], StreamingSeparator] = {}

    def run(clip: Clip) -> np.ndarray:
        key = (clip.mixture.shape[0], clip.sample_rate)
        if key not in cache:
            cache[key] = StreamingSeparator(model, device, phase=phase, sample_rate=clip.sample_rate,
                                            channels=key[0], max_block_samples=block_samples,
                                            spatial_wiener=spatial_wiener)
        streamer = cache[key]
        streamer.reset()
        latency = streamer.latency_samples
        padded = np.concatenate([clip.mixture, np.zeros((key[0], latency), np.float32)], axis=1)
        out = np.concatenate([streamer.process(padded[:, i:i + block_samples])
                              for i in range(0, padded.shape[1], block_samples)], axis=1)
        return out[:, latency:latency + clip.mixture.shape[1]]

    return run


def baseline_method(model: str | os.PathLike, device: str = "auto", iterations: int = GRIFFINLIM_ITERATIONS,
                    seed: int = 0) -> Method:
    """The baseline recipe's evaluation (the project's starting point): a `magnitude` model's output
    (a mask model's mask × |mixture|) with Griffin-Lim phase from *random* phase (RNG `seed`), as
    `librosa.griffinlim`'s default (32 fast iterations, momentum 0.99)."""
    from isovox.core.phase import griffin_lim
    from isovox.host.model_file import open_model

    loaded = open_model(model, device)
    cfg = loaded.metadata.stft

    def run(clip: Clip) -> np.ndarray:
        mixture = stft(clip.mixture, cfg)
        output = extend_to_spectrum(model_output(loaded, mixture))
        magnitude = output if loaded.metadata.output_kind == "magnitude" else output * np.abs(mixture)
        rng = np.random.default_rng(seed)
        random_phase = np.exp(2j * np.pi * rng.random(mixture.shape)).astype(np.complex64)
        refined, _ = griffin_lim(magnitude, random_phase, cfg, iterations=iterations, momentum=0.99)
        return istft(refined, cfg, clip.mixture.shape[1])

    return run


def external_method(folder: str | os.PathLike) -> Method:
    """Vocals estimated by another tool, stored as ``<folder>/<clip name>/vocals.wav`` for the whole
    track (MUSDB layout, e.g. Open-Unmix's `umx --outdir`); cut to each clip's window."""
    folder = Path(folder)

    def run(clip: Clip) -> np.ndarray:
        path = folder / clip.name / "vocals.wav"
        if not path.is_file():
            raise AudioFileError(f"no estimate {str(path)!r} for clip {clip.name!r}; write one vocals.wav "
                                 "per track in the corpus layout")
        start = round(clip.start_seconds * clip.sample_rate)
        estimate, rate = _read(path, start, clip.mixture.shape[1])
        if rate != clip.sample_rate or estimate.shape != clip.mixture.shape:
            raise AudioDataError(f"{path}: {rate} Hz {estimate.shape} does not match the mixture "
                                 f"({clip.sample_rate} Hz, {clip.mixture.shape}); write full-length estimates")
        return estimate

    return run


# --- evaluation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipScore:
    """Scores of one method on one clip (dB), and its processing time in s."""

    sdr: float
    si_sdr: float
    sir: float
    sar: float
    seconds: float


@dataclass
class QualityResults:
    """scores[method][clip] → ClipScore; `clip_seconds` is the audio duration of each clip;
    `categories` maps clip → suite category (empty outside a suite)."""

    clips: list[str]
    clip_seconds: dict[str, float]
    scores: dict[str, dict[str, ClipScore]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)

    def median(self, method: str, metric: str, category: str | None = None) -> float:
        """Median over clips (those of `category` only, if given) of one metric."""
        return median_over_tracks([getattr(s, metric) for c, s in self.scores[method].items()
                                   if category is None or self.categories.get(c) == category])

    def category_names(self) -> list[str]:
        """The categories in the order their first clip appears."""
        return list(dict.fromkeys(self.categories[c] for c in self.clips if c in self.categories))

    def category_summary(self) -> dict[str, list[dict]]:
        """category → per method: SDR and SI-SDR medians over that category's clips, and their count."""
        return {cat: [{"method": m, "sdr": self.median(m, "sdr", cat),
                       "si_sdr": self.median(m, "si_sdr", cat),
                       "clips": sum(self.categories.get(c) == cat for c in self.scores[m])}
                      for m in self.scores]
                for cat in self.category_names()}

    def gap_closed(self, method: str) -> float:
        """(SDR − SDR of REPET-SIM) / (SDR of the oracle IRM − SDR of REPET-SIM), medians; NaN if absent."""
        if REPET not in self.scores or ORACLE not in self.scores:
            return float("nan")
        low, high = self.median(REPET, "sdr"), self.median(ORACLE, "sdr")
        return (self.median(method, "sdr") - low) / (high - low) if high != low else float("nan")

    def rtf(self, method: str) -> float:
        """Processing seconds / audio seconds over all clips."""
        audio = sum(self.clip_seconds[c] for c in self.scores[method])
        return sum(s.seconds for s in self.scores[method].values()) / audio if audio else float("nan")

    def summary(self) -> list[dict]:
        return [{"method": m, "sdr": self.median(m, "sdr"), "si_sdr": self.median(m, "si_sdr"),
                 "sir": self.median(m, "sir"), "sar": self.median(m, "sar"),
                 "gap_closed": self.gap_closed(m), "rtf": self.rtf(m), "clips": len(self.scores[m])}
                for m in self.scores]

    def to_dict(self) -> dict:
        return {"clips": self.clips, "clip_seconds": self.clip_seconds, "summary": self.summary(),
                "categories": self.categories, "category_summary": self.category_summary(),
                "scores": {m: {c: vars(s) for c, s in per.items()} for m, per in self.scores.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> QualityResults:
        """Inverse of `to_dict` (JSON nulls read back as NaN)."""
        def number(value) -> float:
            return float("nan") if value is None else float(value)

        scores = {m: {c: ClipScore(**{k: number(v) for k, v in s.items()}) for c, s in per.items()}
                  for m, per in data["scores"].items()}
        return cls(list(data["clips"]), dict(data["clip_seconds"]), scores, dict(data.get("categories", {})))

    def merged_with(self, earlier: QualityResults) -> QualityResults:
        """These scores after `earlier`'s methods (same clips required; a method here replaces one there)."""
        if earlier.clips != self.clips or any(
                abs(earlier.clip_seconds[c] - self.clip_seconds[c]) > 1e-6 for c in self.clips):
            raise AudioDataError("the results to merge were computed on other clips; rerun them with the "
                                 "same --data, --clip-seconds and --max-tracks")
        return QualityResults(self.clips, self.clip_seconds, {**earlier.scores, **self.scores},
                              self.categories or earlier.categories)

    def to_markdown(self) -> str:
        """The summary table: medians over clips of per-clip medians over 1 s frames."""
        def cell(value: float, digits: int = 2) -> str:
            return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"

        lines = [("| method | vocals SDR (dB) | SI-SDR (dB) | SIR (dB) | SAR (dB) "
                  "| REPET-SIM→oracle gap closed | RTF |"),
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for row in self.summary():
            gap = "—" if not np.isfinite(row["gap_closed"]) else f"{100 * row['gap_closed']:.0f} %"
            lines.append(f"| {row['method']} | {cell(row['sdr'])} | {cell(row['si_sdr'])} | {cell(row['sir'])} "
                         f"| {cell(row['sar'])} | {gap} | {cell(row['rtf'], 3)} |")
        if self.categories:
            lines += ["", self.category_markdown()]
        return "\n".join(lines)

    def category_markdown(self) -> str:
        """Per category and overall: vocals SDR / SI-SDR medians (dB) of every method."""
        def cell(sdr: float, si: float) -> str:
            return " / ".join("—" if not np.isfinite(v) else f"{v:.2f}" for v in (sdr, si))

        names = self.category_names()
        counts = {cat: sum(self.categories.get(c) == cat for c in self.clips) for cat in names}
        lines = [f"| method (vocals SDR / SI-SDR, dB) | all ({len(self.clips)}) | "
                 + " | ".join(f"{cat} ({counts[cat]})" for cat in names) + " |",
                 "|---|---:|" + "---:|" * len(names)]
        for m in self.scores:
            cells = [cell(self.median(m, "sdr"), self.median(m, "si_sdr")),
                     *(cell(self.median(m, "sdr", cat), self.median(m, "si_sdr", cat)) for cat in names)]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def reference_methods(griffinlim: bool = True) -> dict[str, Method]:
    """Floor, REPET-SIM and the oracle ceilings (mixture phase, and Griffin-Lim phase if asked)."""
    methods: dict[str, Method] = {FLOOR: mixture_floor, REPET: repet_sim, ORACLE: oracle_irm}
    if griffinlim:
        methods[ORACLE_GL] = oracle_irm_griffinlim
    return methods


def evaluate(clips: list[Clip], methods: dict[str, Method], progress: bool = True) -> QualityResults:
    """Run every method on every clip and score it (museval vocals SDR/SIR/SAR and SI-SDR)."""
    from tqdm import tqdm

    results = QualityResults([c.name for c in clips],
                             {c.name: c.mixture.shape[1] / c.sample_rate for c in clips},
                             {name: {} for name in methods},
                             {c.name: c.category for c in clips if c.category})
    with tqdm(total=len(clips) * len(methods), unit="run", disable=not progress, desc="quality") as bar:
        for clip in clips:
            for name, method in methods.items():
                bar.set_postfix_str(f"{clip.name[-24:]} · {name[:24]}")
                start = time.perf_counter()
                estimate = np.asarray(method(clip), dtype=np.float32)
                elapsed = time.perf_counter() - start
                if estimate.shape != clip.mixture.shape:
                    raise AudioDataError(f"method {name!r} returned {estimate.shape} for a mixture of "
                                         f"{clip.mixture.shape}; estimates must match the mixture")
                museval_scores = sdr_museval(clip.vocals, estimate, clip.sample_rate, mixture=clip.mixture)
                results.scores[name][clip.name] = ClipScore(
                    museval_scores.sdr, si_sdr(clip.vocals, estimate), museval_scores.sir,
                    museval_scores.sar, elapsed)
                bar.update()
    return results
