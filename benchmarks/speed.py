"""Speed/latency benchmark of several models on this machine → benchmarks/results/<name>.{json,md}.

Runs `isovox bench --json` once per model, each in its own process (so peak RSS is per model), on:
- `tiny`: the test-size U-Net (channels 4,8,8), random weights, exported through `isovox.export`;
- `default-arch`: the default architecture (`ModelConfig()`), random weights (same cost as trained);
- `default`: the shipped isovox/models/default.onnx, when it exists;
- any `--model NAME=PATH` given.
Random-weight models need torch (the [train] extra); their speed equals a trained model's.

    python benchmarks/speed.py --machine "2-core CPU" --out benchmarks/results/cpu-2core --device cpu
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

RANDOM_MODELS = {"tiny": {"channels": (4, 8, 8)}, "default-arch": {}}


def export_random(path: Path, **config) -> Path:
    """A random-weight U-Net of the given `ModelConfig` fields, exported to ONNX at `path`."""
    import torch
    from isovox.export.onnx_export import build_metadata, export_onnx
    from isovox.training.model import ModelConfig, UNet

    torch.manual_seed(0)
    model = UNet(ModelConfig(**config)).eval()
    export_onnx(model, path, build_metadata(model, training_data="random weights (speed benchmark)"))
    return path


def bench(model: Path | str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "isovox", "bench", "--model", str(model), "--device", args.device,
               "--seconds", str(args.seconds), "--block-sizes", args.block_sizes, "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"isovox bench failed for {model}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def git_revision() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def markdown(results: dict) -> str:
    reports = results["models"]
    lines = [f"# Speed and latency — {results['machine']}", "",
             (f"{results['date']}, isovox {results['revision']}, device `{results['device']}`, "
              f"{results['seconds']:g} s of audio per block size after 1 s warm-up; streaming separator with "
              "1 ONNX Runtime thread; offline = `Separator.separate` (ORT default threads), median of 3 runs."),
             (f"CPU: {next(iter(reports.values()))['machine'] if reports else '?'}; 1-minute load average "
              f"{results['load_average_1min'][0]} before, {results['load_average_1min'][1]} after (the machine "
              "is shared: other jobs inflate p99 and the ratios)."), "",
             f"Reproduce: `{results['command']}`", "",
             "| model | parameters | provider | latency | offline RTF | peak RSS streaming / all "
             + "".join(f"| p50/p99 ÷ period @{b} " for b in results["block_sizes"].split(",")) + "|",
             "|---|---:|---|---:|---:|---:" + "|---:" * len(results["block_sizes"].split(",")) + "|"]
    for name, report in reports.items():
        blocks = "".join(f"| {t['p50_ratio']:.3f} / {t['p99_ratio']:.3f} " for t in report["blocks"].values())
        lines.append(f"| {name} | {results['parameters'].get(name, '?')} | {report['provider']} "
                     f"| {report['latency_samples']} smp = {report['latency_ms']:.1f} ms "
                     f"| {report['offline_rtf']:.4f} "
                     f"| {report['peak_rss_streaming_mb']:.0f} / {report['peak_rss_mb']:.0f} MiB {blocks}|")
    lines += ["", ("Ratios are processing time ÷ block duration (< 1 keeps up). The model runs once per "
                   "512-sample hop, so with blocks smaller than a hop only every (512 ÷ block)-th call does "
                   "the work: p50 is tiny and p99 carries the whole hop; the mean is the sustained load. "
                   "Wall-clock ratios are what an audio callback sees on this (shared, busy) machine; the "
                   "CPU-time ratios (the calling thread's CPU time) are what the same work costs on an idle "
                   "core.")]
    for name, report in reports.items():
        lines += ["", f"## {name}", "", f"`{report['model']}`", "",
                  ("| block | period (ms) | p50 (ms) | p99 (ms) | max (ms) | p50 ÷ period | p99 ÷ period "
                   "| mean ÷ period | calls over period | CPU time p50 / p99 / mean ÷ period |"),
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for t in report["blocks"].values():
            lines.append(f"| {t['block_samples']} | {t['period_ms']:.2f} | {t['p50_ms']:.3f} | {t['p99_ms']:.3f} "
                         f"| {t['max_ms']:.3f} | {t['p50_ratio']:.3f} | {t['p99_ratio']:.3f} "
                         f"| {t['mean_ratio']:.3f} | {100 * t['over_period_fraction']:.2f} % "
                         f"| {t['cpu_p50_ratio']:.3f} / {t['cpu_p99_ratio']:.3f} / {t['cpu_mean_ratio']:.3f} |")
    return "\n".join(lines) + "\n"


def count_parameters(path: Path) -> int:
    import onnx

    proto = onnx.load(str(path))
    total = 0
    for tensor in proto.graph.initializer:
        size = 1
        for dim in tensor.dims:
            size *= dim
        total += size
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", required=True, help='a name for this machine, e.g. "2-core CPU"')
    parser.add_argument("--out", required=True, type=Path, help="results path without suffix")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--block-sizes", default="128,256,512,1024")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH", help="extra models")
    parser.add_argument("--no-random", action="store_true", help="skip the random-weight models")
    args = parser.parse_args()

    from isovox.host.model_file import default_model_path

    models: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_random:
            for name, config in RANDOM_MODELS.items():
                models[name] = export_random(Path(folder) / f"{name}.onnx", **config)
        if default_model_path().is_file():
            models["default"] = default_model_path()
        for item in args.model:
            name, _, path = item.partition("=")
            models[name] = Path(path)
        results = {"machine": args.machine, "device": args.device, "seconds": args.seconds,
                   "block_sizes": args.block_sizes, "revision": git_revision(),
                   "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "command": "python benchmarks/speed.py " + shlex.join(sys.argv[1:]),
                   "parameters": {name: count_parameters(path) for name, path in models.items()},
                   "models": {}}
        load_before = os.getloadavg()[0]
        for name, path in models.items():
            print(f"benchmarking {name} ({path}) ...", file=sys.stderr)
            results["models"][name] = bench(path, args)
        results["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
