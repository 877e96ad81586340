"""Training throughput: seconds of stereo audio a training step consumes per wall second, per architecture.

Each architecture runs real training steps (torch STFT → U-Net → MSE → Adam) on random audio of the
training crop length, after warm-up steps; the figure is the median over the timed steps. Options
compare thread counts, `torch.compile` and bf16 autocast (the training loop's `--precision bf16`). The
machine is shared and noisy: compare ratios measured in one run, and name the machine.

    python benchmarks/training_speed.py --machine '2-core EPYC' --threads 1 2 --out benchmarks/results/training-speed
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import torch
from isovox.training import PRECISIONS
from isovox.training.model import ModelConfig, UNet
from isovox.training.train import autocast_dtype_for, training_step

ARCHITECTURES: dict[str, dict] = {
    "seed-like 8-16-24-48-64 (previous default)": {},
    "band4 16-24-32-48-64 concat": {"band_split": 4, "channels": (16, 24, 32, 48, 64)},
    "band4 16-24-32-48-64 add": {"band_split": 4, "channels": (16, 24, 32, 48, 64), "skip_mode": "add"},
    "band8 24-32-48-64 add": {"band_split": 8, "channels": (24, 32, 48, 64), "skip_mode": "add"},
    "band8 32-48-64-96 add": {"band_split": 8, "channels": (32, 48, 64, 96), "skip_mode": "add"},
    "band8 24-32-48-64 add, stereo input": {"band_split": 8, "channels": (24, 32, 48, 64), "skip_mode": "add",
                                            "input_channels": 2},
    "band8 48-64-96-128 add, stereo input": {"band_split": 8, "channels": (48, 64, 96, 128), "skip_mode": "add",
                                             "input_channels": 2},
}


def multiply_accumulates_per_frame(model: UNet) -> int:
    """Multiply-accumulates of one frame of one audio channel through every (transposed) convolution (a
    stereo model's frame of a channel pair, halved)."""
    counts: list[int] = []

    def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        positions = (inputs[0] if isinstance(module, torch.nn.ConvTranspose2d) else output).shape[-2]
        counts.append(module.weight.numel() * positions * output.shape[-1])

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, model.config.input_channels, model.config.stft.model_bins, 1))
    for handle in handles:
        handle.remove()
    return sum(counts) // model.config.input_channels


def step_seconds(config: ModelConfig, batch: int, crop_frames: int, steps: int, compile_model: bool,
                 precision: str) -> float:
    """Median wall seconds of one training step (after two warm-up steps)."""
    torch.manual_seed(0)
    model = UNet(config).to(memory_format=torch.channels_last).train()
    net = torch.compile(model) if compile_model else model
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    samples = crop_frames * config.stft.hop_samples
    vocals, accompaniment = torch.randn(batch, 2, samples) * 0.1, torch.randn(batch, 2, samples) * 0.1
    autocast_dtype = autocast_dtype_for(precision, vocals.device)
    times = []
    for index in range(steps + 2):
        started = time.perf_counter()
        loss = training_step(net, vocals, accompaniment, "mse", config, autocast_dtype)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if index >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", required=True, help="what this ran on, for the report")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=8, help="stereo crops per step")
    parser.add_argument("--crop-frames", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd models")
    parser.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["fp32"],
                        help="training precisions to time (bf16: autocast, as `isovox train --precision bf16`)")
    parser.add_argument("--only", nargs="*", help="architecture names (substrings) to run")
    parser.add_argument("--out", type=Path, help="write OUT.md and OUT.json")
    args = parser.parse_args()
    rows = []
    audio_seconds = args.batch_size * args.crop_frames * 512 / 44100
    for name, overrides in ARCHITECTURES.items():
        if args.only and not any(part in name for part in args.only):
            continue
        config = ModelConfig(**overrides)
        model = UNet(config)
        macs = multiply_accumulates_per_frame(model)
        for threads in args.threads:
            torch.set_num_threads(threads)
            for compiled, precision in itertools.product((False, True) if args.compile else (False,),
                                                         args.precision):
                seconds = step_seconds(config, args.batch_size, args.crop_frames, args.steps, compiled, precision)
                row = {"architecture": name, "parameters": sum(p.numel() for p in model.parameters()),
                       "macs_per_frame": macs, "threads": threads, "compiled": compiled, "precision": precision,
                       "step_seconds": round(seconds, 3),
                       "stereo_audio_seconds_per_second": round(audio_seconds / seconds, 2)}
                rows.append(row)
                print(f"{name:45s} {threads} thr {'compiled' if compiled else 'eager':8s} {precision:4s} "
                      f"{macs / 1e6:5.2f} M MAC/frame  {row['stereo_audio_seconds_per_second']:6.2f} s/s", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        header = (f"# Training throughput ({args.machine}; batch {args.batch_size} stereo crops × "
                  f"{args.crop_frames} frames, MSE, Adam)\n\n| architecture | params | M MAC/frame | threads | "
                  "compiled | precision | step s | stereo audio s/s |\n|---|---:|---:|---:|---|---|---:|---:|\n")
        lines = [f"| {r['architecture']} | {r['parameters']:,} | {r['macs_per_frame'] / 1e6:.2f} | {r['threads']} | "
                 f"{r['compiled']} | {r['precision']} | {r['step_seconds']} | {r['stereo_audio_seconds_per_second']} |" for r in rows]
        args.out.with_suffix(".md").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps({"machine": args.machine, "rows": rows}, indent=1),
                                                 encoding="utf-8")


if __name__ == "__main__":
    main()
