"""Held-out suite SDR against hours of audio seen: the long run's checkpoints, overall and per category.

    python benchmarks/suite_curve.py --out benchmarks/results/suite-curve.png \
        --references benchmarks/results/quality-suite-references.json \
        --point "2.67=benchmarks/results/quality-suite-models.json#band8-add-73min" \
        --point 7.73=benchmarks/results/suite-long-run/epoch-77.json \
        --point 8.62=benchmarks/results/suite-long-run/epoch-86.json \
        --point 11.89=benchmarks/results/suite-long-run/epoch-119-mse.json \
        --point 20.21=benchmarks/results/suite-long-run/finetune-ctrl.json
Each point is HOURS=JSON[#METHOD]: a `benchmarks/quality.py` result and its row METHOD (default: the
first), scored at that many hours of stereo audio seen (the `audio_hours_seen` column of log.csv).
`--references` adds the REPET-SIM and oracle IRM medians of a references JSON as horizontal lines.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

GOAL_GAP_SHARE = 0.6  # issue #14: close 60 % of the REPET-SIM → oracle IRM gap


def _point(text: str) -> tuple[float, Path, str | None]:
    hours, rest = text.split("=", 1)
    path, _, method = rest.partition("#")
    return float(hours), Path(path), method or None


def _medians(result: dict, method: str | None) -> dict[str, float]:
    """'all' and each category → vocals SDR median (dB) of `method` (None: the first row)."""
    method = method or result["summary"][0]["method"]
    medians = {"all": next(row["sdr"] for row in result["summary"] if row["method"] == method)}
    for category, rows in result["category_summary"].items():
        medians[category] = next(row["sdr"] for row in rows if row["method"] == method)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--point", type=_point, action="append", required=True, metavar="HOURS=JSON[#METHOD]")
    parser.add_argument("--references", type=Path, default=None, help="quality JSON with REPET-SIM and oracle rows")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()
    points = sorted((hours, _medians(json.loads(path.read_text()), method)) for hours, path, method in args.point)
    hours = [h for h, _ in points]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name in points[0][1]:
        style = {"linewidth": 2.5, "color": "black"} if name == "all" else {"linewidth": 1.2}
        ax.plot(hours, [m[name] for _, m in points], marker="o", label=name, **style)
    if args.references:
        rows = {row["method"]: row["sdr"] for row in json.loads(args.references.read_text())["summary"]}
        low = next(v for k, v in rows.items() if k.startswith("REPET-SIM"))
        high = next(v for k, v in rows.items() if k.startswith("oracle IRM"))
        goal = low + GOAL_GAP_SHARE * (high - low)
        for name, value, style in (("REPET-SIM", low, ":"), ("oracle IRM", high, "--"),
                                   (f"goal: {GOAL_GAP_SHARE:.0%} of the gap", goal, "-.")):
            ax.axhline(value, linestyle=style, color="grey", linewidth=1)
            ax.text(hours[0], value + 0.1, f"{name} {value:.2f} dB (all)", color="grey", fontsize=8)
    ax.set_xlabel("hours of stereo audio seen")
    ax.set_ylabel("vocals SDR, median over clips (dB)")
    ax.set_title("held-out suite during the long run")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", ncol=2)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
