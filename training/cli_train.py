"""`isovox train`: train a U-Net on stems (MUSDB18-HQ layout, vocals+accompaniment folders, or the
song + a cappella `<name>.wav` + `<name>.acapella.wav` pairs). Multi-GPU: `torchrun --nproc_per_node N -m isovox train …`.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from isovox.core.channel_groups import MODEL_CHANNELS
from isovox.training import PRECISIONS


def _channels(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--channels {text!r}: expected comma-separated integers, "
                                         "e.g. 8,16,24,48,64") from None
    if len(values) < 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"--channels {text!r}: expected ≥ 2 positive integers")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, nargs="+", metavar="DIR",
                        help="one or more folders with training stems (any supported layout, including "
                             "`isovox prepare-data` pools), used together")
    parser.add_argument("--valid-data", type=Path, default=None,
                        help="folder with validation stems (default: DATA/test, else every 10th track)")
    parser.add_argument("--out", required=True, type=Path, help="run folder (checkpoints, log.csv, curves.png)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8, help="stereo crops per step (default 8)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (cosine decay to 1/10)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--init-from", type=Path, default=None, metavar="CHECKPOINT",
                        help="start a new run from this checkpoint's weights (fresh optimizer and schedule); "
                             "the settings must match it, except that --gru-units may add a GRU")
    parser.add_argument("--loss", choices=("l1", "mse", "l1c", "sdr"), default="l1",
                        help="l1 (seed), mse, l1c (L1 on magnitudes**0.3), sdr (waveform)")
    parser.add_argument("--output-kind", choices=("mask", "magnitude"), default="mask")
    parser.add_argument("--channels", type=_channels, default=(8, 16, 24, 48, 64),
                        help="channels per U-Net level (default 8,16,24,48,64: the shipped model)")
    parser.add_argument("--lookahead-frames", type=int, default=0)
    parser.add_argument("--band-split", type=int, default=1,
                        help="adjacent bins folded into channels before the first level (default 1; 4 runs "
                             "every level on a quarter of the bins: several times cheaper per frame)")
    parser.add_argument("--skip-mode", choices=("concat", "add"), default="concat",
                        help="decoder skip connections: concat (seed) or add (cheaper decoders)")
    parser.add_argument("--mask-max", type=float, default=1.0, help="upper end of the soft mask (default 1)")
    parser.add_argument("--gru-units", type=int, default=0,
                        help="hidden units of a causal GRU at the bottleneck, for context beyond the "
                             "convolutions' receptive field (default 0: none)")
    parser.add_argument("--input-channels", type=int, choices=MODEL_CHANNELS, default=1,
                        help="audio channels the model sees at once: 1 (each channel alone, the default) or 2 "
                             "(a stereo pair in, one mask per channel out: it can use where a sound sits in "
                             "the stereo image, at about half the cost per stereo frame)")
    parser.add_argument("--crop-frames", type=int, default=128, help="STFT frames per training crop")
    parser.add_argument("--burn-in-frames", type=int, default=0,
                        help="leading frames of each crop left out of the loss: their causal context is zero "
                             "padding, which inference meets only at a file's start (default 0)")
    parser.add_argument("--n-fft", type=int, default=1024)
    parser.add_argument("--hop-samples", type=int, default=512)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--workers", type=int, default=0, help="data loader processes")
    parser.add_argument("--decoded-cache", type=Path, default=None, metavar="DIR",
                        help="keep decoded copies of the compressed (FLAC) training files here and read crops "
                             "from them: about twice the FLAC size on disk, several times faster reads")
    parser.add_argument("--valid-clips", type=int, default=8)
    parser.add_argument("--valid-seconds", type=float, default=6.0)
    parser.add_argument("--bn-crops", type=int, default=16,
                        help="re-estimate batch-norm statistics on this many fresh crops before each "
                             "validation (precise BN; 0: keep the running averages)")
    parser.add_argument("--skip-incomplete", action="store_true",
                        help="skip tracks still being written (a corpus being rendered); rescanned each epoch")
    parser.add_argument("--time-limit-minutes", type=float, default=0.0,
                        help="start no epoch that would end after this many minutes (0: no limit)")
    parser.add_argument("--training-data", default="", help="one-line data description for checkpoints")
    parser.add_argument("--no-augment", action="store_true", help="no gain, channel-swap or remix augmentation")
    parser.add_argument("--accompaniment-eq", type=float, default=0.0, metavar="PROBABILITY",
                        help="give this share of pool music crops a random mastering EQ (default 0)")
    parser.add_argument("--accompaniment-speed", type=float, default=0.0, metavar="PROBABILITY",
                        help="play this share of remixed accompaniment crops faster or slower, like tape "
                             "(within ±3 semitones; default 0)")
    parser.add_argument("--accompaniment-layers", type=float, default=0.0, metavar="PROBABILITY",
                        help="layer a second drawn accompaniment crop (−12..−3 dB) under this share of the "
                             "remixed ones (default 0)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: mixed precision on CUDA, fp32 on the CPU; bf16: autocast the model to bf16 "
                             "on the CPU too (about 2× faster where it has AMX); fp32: never autocast")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from isovox.core.errors import ConfigMismatchError, SettingError
    from isovox.core.stft import StftConfig
    from isovox.training.datasets import Augmentation
    from isovox.training.model import ModelConfig
    from isovox.training.train import TrainConfig, train

    for name in ("epochs", "steps_per_epoch", "batch_size", "crop_frames", "valid_clips"):
        if getattr(args, name) <= 0:
            raise SettingError(f"--{name.replace('_', '-')} {getattr(args, name)} must be positive")
    if args.bn_crops < 0:
        raise SettingError(f"--bn-crops {args.bn_crops} must be ≥ 0")
    if args.lookahead_frames < 0:
        raise SettingError(f"--lookahead-frames {args.lookahead_frames} must be ≥ 0")
    if not 0 <= args.burn_in_frames < args.crop_frames:
        raise SettingError(f"--burn-in-frames {args.burn_in_frames} must be ≥ 0 and below --crop-frames "
                           f"{args.crop_frames}")
    if args.band_split < 1 or not args.mask_max > 0 or args.gru_units < 0:
        raise SettingError(f"--band-split {args.band_split} must be ≥ 1, --mask-max {args.mask_max} > 0 and "
                           f"--gru-units {args.gru_units} ≥ 0")
    for name in ("accompaniment_eq", "accompaniment_speed", "accompaniment_layers"):
        if not 0 <= getattr(args, name) <= 1:
            raise SettingError(f"--{name.replace('_', '-')} {getattr(args, name)} must be a probability in 0..1")
    if args.resume and args.init_from is not None:
        raise SettingError("--resume and --init-from exclude each other: --resume continues OUT/last.pt")
    model = ModelConfig(channels=args.channels, lookahead_frames=args.lookahead_frames,
                        output_kind=args.output_kind, band_split=args.band_split, skip_mode=args.skip_mode,
                        mask_max=args.mask_max, gru_units=args.gru_units, input_channels=args.input_channels,
                        stft=StftConfig(args.sample_rate, args.n_fft, args.hop_samples))
    factor = args.band_split * 2 ** (len(model.channels) - 1)
    if model.stft.model_bins % factor:
        raise ConfigMismatchError(f"n_fft {args.n_fft} gives {model.stft.model_bins} model bins, not divisible "
                                  f"by --band-split × 2**{len(model.channels) - 1} = {factor} for "
                                  f"{len(model.channels)} levels; use fewer --channels levels, a smaller "
                                  "--band-split or a power-of-two --n-fft")
    config = TrainConfig(
        data=tuple(args.data), out=args.out, valid_data=args.valid_data, epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, lr=args.lr, loss=args.loss,
        model=model, crop_frames=args.crop_frames, burn_in_frames=args.burn_in_frames, seed=args.seed, threads=args.threads,
        num_workers=args.workers, resume=args.resume, init_from=args.init_from, decoded_cache=args.decoded_cache, valid_clips=args.valid_clips, bn_crops=args.bn_crops,
        valid_seconds=args.valid_seconds, skip_incomplete=args.skip_incomplete,
        time_limit_minutes=args.time_limit_minutes, training_data=args.training_data, precision=args.precision,
        augmentation=Augmentation.none() if args.no_augment else
        Augmentation(accompaniment_eq_probability=args.accompaniment_eq,
                     accompaniment_speed_probability=args.accompaniment_speed,
                     accompaniment_layer_probability=args.accompaniment_layers), progress=not args.quiet,
    )
    result = train(config)
    if os.environ.get("RANK", "0") == "0":
        print(f"best vocal SDR {result['best_val_sdr']:.2f} dB (mixture {result['mixture_sdr']:.2f}, oracle IRM "
              f"{result['oracle_irm_sdr']:.2f}) → {result['best_checkpoint']}")
    return 0
