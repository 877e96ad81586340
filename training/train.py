"""The training loop: random crops → torch STFT → U-Net → loss, validated each epoch by vocal SDR.

Writes into the run folder: `last.pt` (every epoch, with the optimizer, for `--resume`), `best.pt`
(best validation SDR), `log.csv` (one row per epoch) and `curves.png`. Deterministic for a given
seed on a given device: model initialisation comes from `torch.manual_seed(seed)` and every training
crop from (seed, epoch, rank, index). Under `torchrun` (WORLD_SIZE > 1) it runs DistributedDataParallel
(NCCL on CUDA, gloo on CPU); rank 0 validates, logs and writes checkpoints. Mixed precision (bf16, or
fp16 with a gradient scaler) on CUDA; bf16 autocast on the CPU with `precision="bf16"`.
"""
from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from isovox.core.atomic_files import atomic_path
from isovox.core.errors import AudioDataError, CheckpointError, SettingError
from isovox.training import PRECISIONS
from isovox.training.checkpoint import load_checkpoint, save_checkpoint
from isovox.training.datasets import (
    MUSDB_VALIDATION_TRACKS,
    Augmentation,
    CropDataset,
    PoolTrack,
    Track,
    TrackScanner,
    total_seconds,
    validation_clips,
)
from isovox.training.decoded_cache import DecodedCache
from isovox.training.evaluate import model_score, reference_scores
from isovox.training.features import log_magnitude, stft
from isovox.training.losses import separation_loss
from isovox.training.model import ModelConfig, UNet, grow_from
from isovox.training.recalibrate import DEFAULT_CROP_FRAMES, DEFAULT_CROPS, recalibrate_batch_norm
from tqdm import tqdm

STATS_EPOCH = 1_000_000  # crop-seed "epoch" of the normalisation statistics (never a training epoch)
# the training settings a checkpoint records, so that `--resume` can name the ones given differently
# (epochs and the time limit are left out: changing them is how a run is extended)
RECIPE_SETTINGS = ("loss", "lr", "batch_size", "crop_frames", "burn_in_frames", "seed", "steps_per_epoch",
                   "augmentation", "precision")
LOG_COLUMNS = ("epoch", "train_loss", "val_sdr", "mixture_sdr", "oracle_irm_sdr", "lr", "epoch_seconds",
               "audio_seconds_per_second", "train_tracks", "train_hours", "audio_hours_seen")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs; `out` receives checkpoints, the CSV log and the curves."""

    data: tuple[Path, ...]              # one or more roots (any supported layout), scanned together
    out: Path
    valid_data: Path | None = None
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 8                 # examples per step (each a stereo crop → 2 mono items)
    lr: float = 1e-3
    loss: str = "l1"
    model: ModelConfig = field(default_factory=ModelConfig)
    crop_frames: int = 128
    burn_in_frames: int = 0             # leading crop frames left out of the loss (zero causal context)
    seed: int = 0
    threads: int = 0                    # torch intra-op threads; 0 keeps torch's default
    num_workers: int = 0
    resume: bool = False
    init_from: Path | None = None       # a new run starts from this checkpoint's weights (`grow_from`)
    decoded_cache: Path | None = None   # decoded copies of compressed training files (`DecodedCache`)
    valid_clips: int = 8
    valid_seconds: float = 6.0
    skip_incomplete: bool = False       # a corpus still being rendered: skip unfinished tracks
    time_limit_minutes: float = 0.0     # 0: none; else no epoch starts that would end after it
    stat_crops: int = 64
    bn_crops: int = DEFAULT_CROPS       # batch-norm recalibration crops before each validation (0: off)
    bn_crop_frames: int = DEFAULT_CROP_FRAMES
    augmentation: Augmentation = field(default_factory=Augmentation)
    training_data: str = ""             # one-line description stored in checkpoints (auto if empty)
    precision: str = "auto"             # PRECISIONS: bf16 autocasts on the CPU too (fast with AMX)
    progress: bool = True


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def _setup_distributed() -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        device = torch.device("cuda", local)
    else:
        dist.init_process_group("gloo")
        device = torch.device("cpu")
    return _Dist(dist.get_rank(), world, device)


def split_tracks(roots: tuple[str | Path, ...], sample_rate: int, *, valid_data: str | Path | None = None,
                 skip_incomplete: bool = False) -> tuple[_TrainingScanner, list[Track]]:
    """The training scanner over `roots` and the validation tracks (scanned once).

    Validation is `valid_data` when given; else MUSDB18's official validation tracks where a root has
    them; else every tenth training track, held out. A root's `test/` split is never read: it measures
    the final model, so choosing checkpoints on it would leak it."""
    scanners = [TrackScanner(root, sample_rate, split="train", skip_incomplete=skip_incomplete,
                             refuse_heldout=True) for root in roots]
    tracks = [t for scanner in scanners for t in scanner.scan()]
    if valid_data is not None:
        return _TrainingScanner(scanners, set()), TrackScanner(valid_data, sample_rate).scan()
    valid = [t for t in tracks if t.name in MUSDB_VALIDATION_TRACKS]
    if not valid:  # hold out every tenth paired training track (and never train on it)
        paired = [t for t in tracks if not isinstance(t, PoolTrack)]
        if len(paired) < 2:
            raise AudioDataError(f"{', '.join(map(str, roots))}: {len(paired)} track(s) with both stems; "
                                 "need ≥ 2 to hold one out for validation, or pass --valid-data DIR")
        valid = paired[::10]
    return _TrainingScanner(scanners, set(valid)), valid


class _TrainingScanner:
    """The scanners of every training root, hiding the held-out validation tracks (by their files, not
    their names: two roots may both hold a `song01`)."""

    def __init__(self, scanners: list[TrackScanner], excluded: set[Track]):
        self.scanners, self.excluded = scanners, excluded

    def scan(self) -> list[Track]:
        return [t for scanner in self.scanners for t in scanner.scan() if t not in self.excluded]


def set_input_statistics(model: UNet, tracks: list[Track], crop_frames: int, crops: int, seed: int) -> None:
    """Set `input_mean`/`input_scale` per bin from the log-magnitudes of `crops` training mixtures."""
    cfg = model.config.stft
    dataset = CropDataset(tracks, crop_frames * cfg.hop_samples, crops, seed=seed, epoch=STATS_EPOCH,
                          augmentation=Augmentation.none())
    features = []
    for index in range(len(dataset)):
        vocals, accompaniment = dataset[index]
        features.append(log_magnitude(stft(vocals + accompaniment, cfg), cfg))  # (2, bins, frames)
    stacked = torch.cat(features, dim=-1)  # (2, bins, all frames)
    mean = stacked.mean(dim=(0, 2))
    std = stacked.std(dim=(0, 2)).clamp_min(1e-3)
    with torch.no_grad():
        model.input_mean.copy_(mean.view(1, 1, -1, 1))
        model.input_scale.copy_((1.0 / std).view(1, 1, -1, 1))


def recipe(config: TrainConfig) -> dict:
    """The `RECIPE_SETTINGS` of a run as primitives (the augmentation as a dict of its fields)."""
    settings = {name: getattr(config, name) for name in RECIPE_SETTINGS}
    settings["augmentation"] = asdict(config.augmentation)
    return settings


def recipe_changes(stored: dict, current: dict) -> list[str]:
    """'name old → new' for every recorded setting that differs (a checkpoint without a recipe: none).
    An augmentation setting newer than the checkpoint had its default value when it was written."""
    changes = []
    for name, value in current.items():
        old = stored.get(name, value)
        if isinstance(value, dict):
            before = {**(asdict(Augmentation()) if name == "augmentation" else value), **old}
            changes += [f"{name}.{key} {before[key]} → {item}" for key, item in value.items()
                        if before[key] != item]
        elif old != value:
            changes.append(f"{name} {old} → {value}")
    return changes


def _learning_rate(config: TrainConfig, epoch: int, elapsed_seconds: float) -> float:
    """Cosine decay from `lr` to `lr / 10` over the run: over the epochs, or over the time limit if
    that ends first (then the schedule, like the stopping point, depends on the machine's speed)."""
    progress = epoch / max(1, config.epochs - 1)
    if config.time_limit_minutes:
        progress = max(progress, elapsed_seconds / (config.time_limit_minutes * 60))
    return config.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))))


def autocast_dtype_for(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype that the model's forward pass autocasts to (None: fp32). Weights, the optimiser and the
    loss stay fp32 in every mode; bf16 on the CPU pays where it has AMX or AVX-512 BF16 (measure it:
    `benchmarks/training_speed.py --precision fp32 bf16`)."""
    if precision not in PRECISIONS:
        raise SettingError(f"precision {precision!r}: expected one of {PRECISIONS}")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda" and precision == "auto" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def _describe(config: TrainConfig, tracks: list[Track], rate: int) -> str:
    if config.training_data:
        return config.training_data
    roots = " + ".join(Path(root).name for root in config.data)
    return f"{roots}: {len(tracks)} tracks, {total_seconds(tracks, rate) / 3600:.2f} h"


def training_step(model: torch.nn.Module, vocals: torch.Tensor, accompaniment: torch.Tensor, loss_kind: str,
                  model_config: ModelConfig, autocast_dtype: torch.dtype | None,
                  burn_in_frames: int = 0) -> torch.Tensor:
    """Loss of one batch: stems (batch, 2, samples) → model items (2·batch / C, C, samples) for a model
    of C = `input_channels` → loss over every channel's frames after `burn_in_frames` (earlier ones see
    zero padding as their past)."""
    cfg = model_config.stft
    per_item, samples = model_config.input_channels, vocals.shape[-1]
    vocals = vocals.reshape(-1, per_item, samples)
    mixture_audio = vocals + accompaniment.reshape(-1, per_item, samples)
    mixture, vocals_spectrum = stft(mixture_audio, cfg), stft(vocals, cfg)
    features = log_magnitude(mixture, cfg).contiguous(memory_format=torch.channels_last)
    if autocast_dtype is not None:
        with torch.autocast(device_type=features.device.type, dtype=autocast_dtype):
            output = model(features)[0]
    else:
        output = model(features)[0]
    # one mono spectrogram per audio channel from here on: (2·batch, bins, frames)
    output = output.float().flatten(0, 1)
    mixture, vocals_spectrum, vocals = mixture.flatten(0, 1), vocals_spectrum.flatten(0, 1), vocals.flatten(0, 1)
    # output frame t belongs to input frame t - lookahead: compare with the frames it estimates
    lookahead = model_config.lookahead_frames
    frames = output.shape[-1] - lookahead
    first = burn_in_frames
    if first:  # a whole number of hops keeps the waveform (sdr loss) aligned with the frames
        vocals = vocals[..., first * cfg.hop_samples:]
    return separation_loss(loss_kind, output[..., lookahead + first:], mixture[..., first:frames],
                           vocals_spectrum[..., first:frames], vocals, model_config.output_kind, cfg)


def _read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def audio_hours_seen(rows: list[dict]) -> float:
    """Hours of (stereo) training audio seen up to the last logged epoch; logs written before the column
    existed are estimated from each epoch's throughput and length."""
    if not rows:
        return 0.0
    if rows[-1].get("audio_hours_seen"):
        return float(rows[-1]["audio_hours_seen"])
    return sum(float(r["epoch_seconds"]) * float(r["audio_seconds_per_second"]) for r in rows) / 3600


def checkpoint_hours_seen(path: Path, payload: dict) -> float:
    """Hours of training audio a checkpoint's weights have seen: its own record, else the run's log.csv
    beside it up to the checkpoint's epoch (checkpoints written before the record), else 0."""
    if "audio_hours_seen" in payload["metrics"]:
        return payload["metrics"]["audio_hours_seen"]
    return audio_hours_seen([r for r in _read_log(Path(path).with_name("log.csv"))
                             if int(r["epoch"]) <= payload["epoch"]])


def _write_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def train(config: TrainConfig) -> dict:
    """Run (or resume) training; returns {'best_val_sdr', 'mixture_sdr', 'oracle_irm_sdr', 'epochs',
    'best_checkpoint', 'training_seconds'}. Raises `IsovoxError` subclasses on bad data or checkpoints."""
    env = _setup_distributed()
    try:
        return _train(config, env)
    finally:
        if env.world > 1:
            dist.destroy_process_group()


def _train(config: TrainConfig, env: _Dist) -> dict:
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config.model.stft
    rate = cfg.sample_rate
    scanner, valid_tracks = split_tracks(config.data, rate, valid_data=config.valid_data,
                                         skip_incomplete=config.skip_incomplete)
    tracks = scanner.scan()
    if not tracks:
        raise AudioDataError(f"no usable training tracks in {config.data}")

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    log_path = out / "log.csv"
    start_epoch, best, training_seconds, hours_seen = 0, -math.inf, 0.0, 0.0
    run_recipe = recipe(config)
    optimizer_state = None
    if config.resume:
        model, payload = load_checkpoint(out / "last.pt")
        if model.config != config.model:
            raise CheckpointError(f"{out / 'last.pt'} was trained with {model.config}, not {config.model}; "
                                  "resume with the same settings or start a new --out folder")
        start_epoch = payload["epoch"] + 1
        best = payload["metrics"].get("best_val_sdr", -math.inf)
        training_seconds = payload["metrics"].get("training_seconds", 0.0)
        hours_seen = checkpoint_hours_seen(out / "last.pt", payload)
        optimizer_state = payload["optimizer"]
        changes = recipe_changes(payload.get("recipe", {}), run_recipe)
        if changes and env.main:
            tqdm.write(f"resuming {out / 'last.pt'} with changed settings: {'; '.join(changes)}")
    elif config.init_from is not None:
        model = UNet(config.model)
        source, source_payload = load_checkpoint(config.init_from)
        hours_seen = checkpoint_hours_seen(config.init_from, source_payload)  # the curve continues
        try:
            grow_from(model, source)
        except ValueError as exc:
            raise CheckpointError(f"--init-from {config.init_from}: {exc}; train with its settings "
                                  "(only --channels may widen and --gru-units be added)") from None
    else:
        model = UNet(config.model)
        set_input_statistics(model, tracks, config.crop_frames, config.stat_crops, config.seed)
    # channels-last convolutions: ~1.5-2× faster on CPU (oneDNN) and what tensor cores want on CUDA
    model = model.to(env.device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    net: torch.nn.Module = model
    if env.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[env.device.index] if env.device.type == "cuda" else None)

    autocast_dtype = autocast_dtype_for(config.precision, env.device)
    scaler = torch.amp.GradScaler("cuda") if autocast_dtype == torch.float16 else None

    clips, references = [], {}
    rows = _read_log(log_path) if config.resume else []
    if env.main:
        clips = validation_clips(valid_tracks, config.valid_seconds, config.valid_clips, rate)
        references = reference_scores(clips, cfg)
        tqdm.write(f"validation: {len(clips)} clips × {config.valid_seconds:g} s; vocal SDR of the mixture "
                   f"{references['mixture']:.2f} dB, oracle IRM {references['oracle_irm']:.2f} dB")

    crop_samples = config.crop_frames * cfg.hop_samples
    cache = DecodedCache(config.decoded_cache) if config.decoded_cache is not None else None
    run_started = time.monotonic()
    last_epoch_seconds = 0.0
    epoch = start_epoch
    for epoch in range(start_epoch, config.epochs):
        elapsed = time.monotonic() - run_started
        if env.world > 1:  # every rank takes rank 0's timing: the same stop decision and learning rate
            timing = torch.tensor([elapsed, last_epoch_seconds], dtype=torch.float64, device=env.device)
            dist.broadcast(timing, 0)
            elapsed, last_epoch_seconds = (float(v) for v in timing)
        if config.time_limit_minutes and epoch > start_epoch and \
                elapsed + last_epoch_seconds > config.time_limit_minutes * 60:
            if env.main:
                tqdm.write(f"stopping before epoch {epoch}: the time limit of {config.time_limit_minutes:g} min "
                           "would be exceeded")
            epoch -= 1
            break
        epoch_started = time.monotonic()
        if epoch > start_epoch:
            tracks = scanner.scan() or tracks  # pick up tracks finished since (corpus still rendering)
        lr = _learning_rate(config, epoch, elapsed)
        for group in optimizer.param_groups:
            group["lr"] = lr
        dataset = CropDataset(tracks, crop_samples, config.steps_per_epoch * config.batch_size,
                              seed=config.seed, epoch=epoch, rank=env.rank, augmentation=config.augmentation,
                              sample_rate=rate, cache=cache)
        loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=False,
                                             num_workers=config.num_workers,
                                             persistent_workers=False)
        net.train()
        losses = []
        bar = tqdm(loader, desc=f"epoch {epoch}", unit="step", disable=not (env.main and config.progress),
                   leave=False)
        for vocals, accompaniment in bar:
            loss = training_step(net, vocals.to(env.device), accompaniment.to(env.device), config.loss,
                                 config.model, autocast_dtype, config.burn_in_frames)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        train_seconds = time.monotonic() - epoch_started
        training_seconds += train_seconds
        audio_rate = len(losses) * config.batch_size * crop_samples / rate / train_seconds
        hours_seen += len(losses) * config.batch_size * crop_samples * env.world / rate / 3600

        if env.main:
            recalibrate_batch_norm(model, tracks, config.bn_crop_frames, config.bn_crops, config.seed, epoch,
                                   cache=cache)
            score = model_score(model, clips)
            improved = score > best or not math.isfinite(best)
            best = max(best, score) if math.isfinite(score) else best
            metrics = {"val_sdr": score, "best_val_sdr": best, "train_loss": float(np.mean(losses)),
                       "mixture_sdr": references["mixture"], "oracle_irm_sdr": references["oracle_irm"],
                       "training_seconds": training_seconds, "audio_hours_seen": hours_seen}
            description = _describe(config, tracks, rate)
            save_checkpoint(out / "last.pt", model, epoch=epoch, metrics=metrics, training_data=description,
                            optimizer=optimizer, recipe=run_recipe)
            if improved:
                save_checkpoint(out / "best.pt", model, epoch=epoch, metrics=metrics, training_data=description,
                                recipe=run_recipe)
            last_epoch_seconds = time.monotonic() - epoch_started
            rows.append({"epoch": epoch, "train_loss": f"{metrics['train_loss']:.6f}", "val_sdr": f"{score:.3f}",
                         "mixture_sdr": f"{references['mixture']:.3f}",
                         "oracle_irm_sdr": f"{references['oracle_irm']:.3f}", "lr": f"{lr:.3g}",
                         "epoch_seconds": f"{last_epoch_seconds:.1f}",
                         "audio_seconds_per_second": f"{audio_rate * env.world:.2f}",
                         "train_tracks": len(tracks), "train_hours": f"{total_seconds(tracks, rate) / 3600:.3f}",
                         "audio_hours_seen": f"{hours_seen:.4f}"})
            _write_log(log_path, rows)
            _plot(log_path, out / "curves.png")
            tqdm.write(f"epoch {epoch}: loss {metrics['train_loss']:.4f}, vocal SDR {score:.2f} dB "
                       f"(mixture {references['mixture']:.2f}, oracle IRM {references['oracle_irm']:.2f}), "
                       f"{audio_rate * env.world:.1f} s of audio/s, {len(tracks)} tracks"
                       + (" *best*" if improved else ""))
        else:
            last_epoch_seconds = time.monotonic() - epoch_started
        if env.world > 1:
            dist.barrier()  # the others wait while rank 0 validates and writes checkpoints
    return {"best_val_sdr": best, "mixture_sdr": references.get("mixture", float("nan")),
            "oracle_irm_sdr": references.get("oracle_irm", float("nan")), "epochs": epoch + 1,
            "best_checkpoint": out / "best.pt", "training_seconds": training_seconds,
            "config": asdict(config)}


def _plot(log_path: Path, png_path: Path) -> None:
    from isovox.training.plots import plot_history  # matplotlib is imported lazily

    plot_history(log_path, png_path)
