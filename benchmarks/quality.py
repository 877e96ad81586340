"""Quality benchmark: vocals SDR (museval v4, median of 1 s frames, median of clips) and SI-SDR.

Rows: the mixture (floor), REPET-SIM (librosa's nn_filter soft mask), the oracle ideal ratio mask with
mixture phase (ceiling) and with Griffin-Lim phase, isovox offline / streaming / Griffin-Lim phase,
and optional hooks: the baseline configuration (`--baseline-model`, a magnitude model evaluated with
Griffin-Lim from random phase), pre-trained Open-Unmix umxhq (`--openunmix`, needs the openunmix
package + torchaudio + network for its weights), estimates written by any other tool
(`--estimates NAME=DIR`, e.g. by `benchmarks/openunmix_peer.py`, Open-Unmix trained on our data) and
other isovox models scored offline (`--extra-model NAME=ONNX`, e.g. an earlier checkpoint).

    python benchmarks/quality.py --data corpus-heldout --out benchmarks/results/quality-heldout
    python benchmarks/quality.py --data /data/musdb18hq/test --max-tracks 10 --out benchmarks/results/quality-musdb
    python benchmarks/quality.py --data /work/data/suite --out benchmarks/results/quality-suite --no-griffinlim

Writes <out>.md (table), <out>.json (per-clip scores) and <out>.png (SDR per clip and method), and
with --plot a spectrogram picture of isovox on the first clip (<out>-separation.png). On a held-out
suite (`benchmarks/heldout_suite.py`) the table and JSON also give each category, and
<out>-categories.png the SDR median per category and method.
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
from isovox.core.errors import IsovoxError, ToolMissingError
from isovox.host.bench import jsonable
from isovox.training.benchmark import quality
from isovox.training.benchmark.plots import plot_quality_bars, plot_separation


def openunmix_method(device: str = "cpu") -> quality.Method:
    """Open-Unmix `umxhq` vocals (its own STFT and Wiener post-filter), via `openunmix.predict`."""
    try:
        import torch
        from openunmix import predict
    except ImportError as exc:
        raise ToolMissingError(f"Open-Unmix cannot be imported ({exc}); `pip install openunmix` needs a "
                               "torchaudio matching your torch, and its weights download from zenodo") from None

    def run(clip: quality.Clip) -> np.ndarray:
        with torch.no_grad():
            estimates = predict.separate(torch.as_tensor(clip.mixture), rate=clip.sample_rate,
                                         model_str_or_path="umxhq", targets=["vocals"], residual=True,
                                         device=device)
        vocals = estimates["vocals"][0].cpu().numpy()[:, :clip.mixture.shape[1]]
        return np.pad(vocals, ((0, 0), (0, clip.mixture.shape[1] - vocals.shape[1])))

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="folder in the MUSDB18-HQ layout (test/ and/or train/), or a held-out suite")
    parser.add_argument("--out", required=True, type=Path, help="results path without suffix")
    parser.add_argument("--model", default="default", help="isovox model ('default' or an ONNX file)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--clip-seconds", type=float, default=quality.DEFAULT_CLIP_SECONDS)
    parser.add_argument("--max-tracks", type=int, default=0, help="0 = every track found")
    parser.add_argument("--no-isovox", action="store_true", help="only the floor, REPET-SIM and oracles")
    parser.add_argument("--no-references", action="store_true",
                        help="skip the floor, REPET-SIM and oracle rows (e.g. to --merge them from an earlier run)")
    parser.add_argument("--merge", action="append", default=[], type=Path, metavar="JSON",
                        help="add the rows of an earlier run's JSON on the same clips")
    parser.add_argument("--no-griffinlim", action="store_true", help="skip the Griffin-Lim rows (slow)")
    parser.add_argument("--no-spatial-wiener", dest="spatial_wiener", action="store_false",
                        help="isovox rows apply a stereo model's masks as they are (default: through the "
                             "spatial Wiener filter, as `isovox separate` does)")
    parser.add_argument("--baseline-model", "--seed-model", dest="baseline_model",
                        help="hook: a --output-kind magnitude model (the baseline recipe), scored with random-phase GL")
    parser.add_argument("--openunmix", action="store_true", help="hook: score Open-Unmix umxhq (see docstring)")
    parser.add_argument("--extra-model", action="append", default=[], metavar="NAME=ONNX",
                        help="also score another isovox model offline (e.g. an earlier checkpoint) as row NAME")
    parser.add_argument("--estimates", action="append", default=[], metavar="NAME=DIR",
                        help="hook: score vocals.wav files another tool wrote as DIR/<split>/<track>/vocals.wav")
    parser.add_argument("--plot", action="store_true", help="also draw isovox's separation of the first clip")
    args = parser.parse_args()

    try:
        clips, skipped = quality.load_clips(args.data, args.clip_seconds, args.max_tracks)
        methods = {} if args.no_references else quality.reference_methods(griffinlim=not args.no_griffinlim)
        if not args.no_isovox:
            wiener = args.spatial_wiener
            methods["isovox offline"] = quality.separator_method(args.model, args.device, spatial_wiener=wiener)
            methods["isovox streaming (512-sample blocks)"] = quality.streaming_method(
                args.model, args.device, spatial_wiener=wiener)
            if not args.no_griffinlim:
                methods["isovox offline, Griffin-Lim phase"] = quality.separator_method(
                    args.model, args.device, phase="griffinlim", spatial_wiener=wiener)
        for item in args.extra_model:
            name, _, path = item.partition("=")
            methods[name] = quality.separator_method(path, args.device, spatial_wiener=args.spatial_wiener)
        if args.baseline_model:
            methods["baseline config (magnitude, L1, GL from random phase)"] = quality.baseline_method(
                args.baseline_model, args.device)
        if args.openunmix:
            methods["Open-Unmix umxhq"] = openunmix_method("cuda" if args.device == "cuda" else "cpu")
        for item in args.estimates:
            name, _, folder = item.partition("=")
            methods[name] = quality.external_method(folder)
        results = quality.evaluate(clips, methods)
        for earlier in args.merge:
            results = results.merged_with(quality.QualityResults.from_dict(json.loads(earlier.read_text())))
    except IsovoxError as exc:
        print(f"quality.py: error: {exc}", file=sys.stderr)
        return 2

    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=False).stdout.strip()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"{len(clips)} clips of up to {args.clip_seconds:g} s (most vocal window) from `{args.data}`; "
              + ("" if args.no_isovox else f"model `{args.model}`; ")
              + f"device `{args.device}`; isovox {revision}; {date}.\n"
              + (f"Skipped (instrumental, no vocals to score): {', '.join(skipped)}.\n" if skipped else "")
              + ("Categories from suite.json; the second table gives each category's medians.\n"
                 if results.categories else "")
              + "Vocals SDR/SIR/SAR: museval BSS Eval v4, two sources (vocals, mixture − vocals), "
              "1 s frames, median over frames per clip, median over clips. SI-SDR: whole clip, median "
              "over clips. RTF: processing s ÷ audio s (2-core CPU, other jobs running).\n\n"
              f"Reproduce: `python benchmarks/quality.py {shlex.join(sys.argv[1:])}`\n\n")
    table = results.to_markdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(header + table + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(jsonable(
        {"data": args.data, "model": args.model, "revision": revision, "date": date, "skipped": skipped,
         "clip_seconds": args.clip_seconds, **results.to_dict()}), indent=2) + "\n")
    plot_quality_bars(args.out.with_suffix(".png"),
                      {m: {c: s.sdr for c, s in per.items()} for m, per in results.scores.items()})
    if results.categories:
        plot_quality_bars(args.out.parent / f"{args.out.name}-categories.png",
                          {m: {cat: results.median(m, "sdr", cat) for cat in results.category_names()}
                           for m in results.scores},
                          title="Vocals SDR per category (median over its clips; last group: median of those)")
    if args.plot and "isovox offline" in methods:
        clip = clips[0]
        plot_separation(args.out.parent / f"{args.out.name}-separation.png", clip.sample_rate, clip.mixture,
                        methods["isovox offline"](clip), reference=clip.vocals)
    print(header + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
