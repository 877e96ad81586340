"""Paired comparison of models on the held-out suite: per-clip SDR differences against one reference.

    python benchmarks/paired_compare.py --reference benchmarks/results/suite-long-run/epoch-119-mse.json \
        --candidate benchmarks/results/suite-long-run/finetune-ctrl.json \
        --candidate benchmarks/results/suite-long-run/finetune-gru.json \
        --out benchmarks/results/suite-paired.md

Clip difficulty dominates the spread of suite scores (a clip's SDR ranges over ~10 dB between clips and
moves ~1 dB between checkpoints), so two medians taken apart cannot tell models ±0.3 dB apart. The
per-clip difference (candidate − reference on the same clip) removes the clip's difficulty. Reported:
the median difference, its 95 % bootstrap interval (clips resampled with replacement, fixed seed),
and the clips the candidate wins, overall and per category. Each spec is JSON[#METHOD]: a
`benchmarks/quality.py` result and its row (default: the first).

One interval over several clip sets (the suite and the dev suite, scored separately): each
`--pooled REFERENCE CANDIDATE` adds one set's per-clip differences to a single pool, reported with
its median and mean and their intervals:

    python benchmarks/paired_compare.py \
        --pooled benchmarks/results/suite-long-run/wide2-final.json benchmarks/results/suite-long-run/b7-world.json \
        --pooled benchmarks/results/dev-suite/wide2-final.json#wide2-final benchmarks/results/dev-suite/b7-world.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
from isovox.training.benchmark.quality import QualityResults

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def load_scores(spec: str) -> tuple[str, dict[str, float], dict[str, str]]:
    """(method name, clip → vocals SDR in dB, clip → category) of one JSON[#METHOD] spec."""
    path, _, method = spec.partition("#")
    result = QualityResults.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    method = method or next(iter(result.scores))
    if method not in result.scores:
        raise SystemExit(f"error: {path} has no method {method!r}; it has {', '.join(result.scores)}")
    scores = {clip: s.sdr for clip, s in result.scores[method].items() if np.isfinite(s.sdr)}
    return method, scores, result.categories


def paired_summary(differences_db: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Median and mean of per-clip differences (dB), their 95 % bootstrap intervals, and the clips won."""
    resampled = rng.choice(differences_db, size=(BOOTSTRAP_RESAMPLES, differences_db.size), replace=True)
    low, high = np.percentile(np.median(resampled, axis=1), [2.5, 97.5])
    mean_low, mean_high = np.percentile(np.mean(resampled, axis=1), [2.5, 97.5])
    return {"median_db": float(np.median(differences_db)), "low_db": float(low), "high_db": float(high),
            "mean_db": float(np.mean(differences_db)), "mean_low_db": float(mean_low),
            "mean_high_db": float(mean_high), "wins": int(np.sum(differences_db > 0)),
            "clips": int(differences_db.size)}


def clip_differences(reference_scores: dict[str, float], scores: dict[str, float],
                     candidate_spec: str) -> dict[str, float]:
    """clip → candidate − reference vocals SDR (dB) over the clips both scored (`candidate_spec`: for the error)."""
    clips = sorted(set(scores) & set(reference_scores))
    if not clips:
        raise SystemExit(f"error: {candidate_spec} shares no clip with the reference; score both on the same suite")
    return {c: scores[c] - reference_scores[c] for c in clips}


def _cell(summary: dict[str, float]) -> str:
    return (f"{summary['median_db']:+.2f} [{summary['low_db']:+.2f}, {summary['high_db']:+.2f}] "
            f"({summary['wins']}/{summary['clips']})")


def _pooled_report(pairs: list[list[str]]) -> str:
    """One line over every clip of every (reference, candidate) set, clip sets kept apart."""
    differences: list[float] = []
    for reference, candidate in pairs:
        differences += clip_differences(load_scores(reference)[1], load_scores(candidate)[1], candidate).values()
    s = paired_summary(np.array(differences), np.random.default_rng(BOOTSTRAP_SEED))
    return (f"Per-clip vocals SDR difference (candidate − reference) pooled over {len(pairs)} clip sets, in dB: "
            f"median and mean, [95 % bootstrap interval over clips, {BOOTSTRAP_RESAMPLES} resamples], "
            "(clips won / clips).\n\n"
            f"Reproduce: `python benchmarks/paired_compare.py {shlex.join(sys.argv[1:])}`\n\n"
            + "".join(f"- `{reference}` → `{candidate}`\n" for reference, candidate in pairs)
            + f"\nmedian {_cell(s)}, mean {s['mean_db']:+.2f} [{s['mean_low_db']:+.2f}, {s['mean_high_db']:+.2f}]\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", metavar="JSON[#METHOD]")
    parser.add_argument("--candidate", action="append", metavar="JSON[#METHOD]")
    parser.add_argument("--pooled", action="append", nargs=2, metavar=("REFERENCE", "CANDIDATE"),
                        help="one clip set's reference and candidate; several pool into one interval")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    if args.pooled and (args.reference or args.candidate):
        parser.error("give either --pooled pairs or --reference with --candidate, not both")
    if args.pooled:
        return _write(_pooled_report(args.pooled), args.out)
    if not (args.reference and args.candidate):
        parser.error("give --reference and at least one --candidate (or --pooled pairs)")

    reference, reference_scores, categories = load_scores(args.reference)
    names = sorted({categories[c] for c in reference_scores if c in categories})
    lines = [(f"Per-clip vocals SDR difference against `{reference}` (`{args.reference}`): median in dB, "
              f"[95 % bootstrap interval over clips, {BOOTSTRAP_RESAMPLES} resamples], (clips won / clips)."),
             "", f"Reproduce: `python benchmarks/paired_compare.py {shlex.join(sys.argv[1:])}`",
             "", "| candidate | all | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for spec in args.candidate:
        method, scores, _ = load_scores(spec)
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        difference = clip_differences(reference_scores, scores, spec)
        cells = [_cell(paired_summary(np.array(list(difference.values())), rng))]
        for name in names:
            in_category = np.array([d for c, d in difference.items() if categories.get(c) == name])
            cells.append(_cell(paired_summary(in_category, rng)) if in_category.size else "–")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return _write("\n".join(lines) + "\n", args.out)


def _write(report: str, out: Path | None) -> int:
    print(report, end="")
    if out:
        out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
