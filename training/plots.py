"""Training curves as PNG (matplotlib, imported here only): one run's history, and a loss comparison."""
from __future__ import annotations

import csv
from pathlib import Path

from isovox.core.atomic_files import atomic_path


def _rows(log_path: Path) -> list[dict]:
    with Path(log_path).open(newline="") as f:
        return list(csv.DictReader(f))


def _save(fig, png_path: Path) -> None:
    """Write the figure as PNG atomically."""
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _progress_axis(rows: list[dict]) -> tuple[list[float], str]:
    """x values of a history: hours of audio seen when logged (comparable across recipes), else epochs."""
    if rows and all(r.get("audio_hours_seen") for r in rows):
        return [float(r["audio_hours_seen"]) for r in rows], "hours of stereo audio seen"
    return [int(r["epoch"]) for r in rows], "epoch"


def plot_history(log_path: Path, png_path: Path) -> Path:
    """Training loss and validation vocal SDR against audio seen, with the mixture and oracle-IRM lines
    of each epoch's validation clips (they step where a resume with other data changed the clips)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _rows(log_path)
    progress, label = _progress_axis(rows)
    fig, (ax_loss, ax_sdr) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.plot(progress, [float(r["train_loss"]) for r in rows], marker="o")
    ax_loss.set(xlabel=label, ylabel="training loss", title="training loss")
    ax_sdr.plot(progress, [float(r["val_sdr"]) for r in rows], marker="o", label="model")
    for key, style, name in (("mixture_sdr", {"color": "grey", "linestyle": "--"}, "mixture"),
                             ("oracle_irm_sdr", {"color": "green", "linestyle": ":"}, "oracle IRM")):
        ax_sdr.step(progress, [float(r[key]) for r in rows], where="post", label=name, **style)
    ax_sdr.set(xlabel=label, ylabel="vocal SDR (dB, museval v4)", title="validation")
    ax_sdr.legend(loc="lower right", bbox_to_anchor=(1.0, 0.08))  # between the mixture line and the model
    for ax in (ax_loss, ax_sdr):
        ax.grid(alpha=0.3)
    _save(fig, png_path)
    plt.close(fig)
    return Path(png_path)


def plot_comparison(logs: dict[str, Path], png_path: Path, title: str = "validation vocal SDR") -> Path:
    """Validation SDR of several runs (e.g. one per recipe) against audio seen (or epochs) on one axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    reference = None
    for name, log_path in logs.items():
        rows = _rows(log_path)
        progress, label = _progress_axis(rows)
        ax.plot(progress, [float(r["val_sdr"]) for r in rows], marker="o", label=name)
        reference = reference or rows[0]
    if reference:
        ax.axhline(float(reference["mixture_sdr"]), color="grey", linestyle="--", label="mixture")
        ax.axhline(float(reference["oracle_irm_sdr"]), color="green", linestyle=":", label="oracle IRM")
    ax.set(xlabel=label if reference else "epoch", ylabel="vocal SDR (dB)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, png_path)
    plt.close(fig)
    return Path(png_path)
