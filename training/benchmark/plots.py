"""Pictures of a separation and of a quality benchmark (matplotlib, imported only when drawing).

`plot_separation` draws dB spectrograms of the mixture, the true vocals (if known), the estimated
vocals and the implied mask |estimate| / |mixture|; `plot_quality_bars` draws vocals SDR per clip
and per method from a quality run. Both write a PNG atomically and return its path.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from isovox.core.atomic_files import atomic_path
from isovox.core.errors import AudioDataError, AudioFileError, ToolMissingError

PLOT_N_FFT = 2048
PLOT_HOP = 512
MAX_FRAMES = 3000          # more columns than a figure has pixels would only cost memory
DB_RANGE = 80.0          # dB shown below the loudest bin
MAX_FREQUENCY_HZ = 11025.0  # voice and its brightness live below this; the top octave is mostly empty


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ToolMissingError("matplotlib is not installed, so no plot can be drawn; "
                               "install it with `pip install isovox[plot]`") from None
    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _mono(audio: np.ndarray, name: str) -> np.ndarray:
    """(samples,) or (channels, samples) → (samples,) float32 channel mean."""
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 2:
        array = array.mean(axis=0, dtype=np.float32)
    if array.ndim != 1 or array.size == 0:
        raise AudioDataError(f"{name} has shape {np.shape(audio)}; expected (channels, samples) or (samples,)")
    return array


def _magnitude(signal: np.ndarray) -> np.ndarray:
    """(samples,) → (bins, frames) float32 STFT magnitude, Hann window of PLOT_N_FFT. The hop grows
    beyond PLOT_HOP for long signals so that at most MAX_FRAMES frames are drawn (bounded memory)."""
    hop = max(PLOT_HOP, -(-signal.size // MAX_FRAMES))
    padded = np.pad(signal.astype(np.float32), (PLOT_N_FFT // 2, PLOT_N_FFT // 2))
    if padded.size < PLOT_N_FFT:
        padded = np.pad(padded, (0, PLOT_N_FFT - padded.size))
    frames = np.lib.stride_tricks.sliding_window_view(padded, PLOT_N_FFT)[::hop]
    window = np.hanning(PLOT_N_FFT).astype(np.float32)
    return np.abs(np.fft.rfft(frames * window, axis=-1)).astype(np.float32).T


def _save(fig, plt, path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise AudioFileError(f"cannot write the plot {str(path)!r}: folder {str(path.parent)!r} "
                             "does not exist; create it or pick another path")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)
    return path


def plot_separation(path: str | os.PathLike, sample_rate: int, mixture: np.ndarray, estimate: np.ndarray,
                    reference: np.ndarray | None = None) -> Path:
    """Write a PNG: dB spectrograms (channel mean) of mixture, true vocals (if `reference` is given),
    estimated vocals, and the implied mask |estimate| / |mixture| in [0, 1].

    Arrays are (channels, samples) or (samples,) at `sample_rate` Hz; `estimate` must be as long
    as `mixture` (an isovox output is). Axes: time in s, frequency in Hz up to 11 kHz."""
    mix = _mono(mixture, "mixture")
    est = _mono(estimate, "estimate")
    if est.size != mix.size:
        raise AudioDataError(f"estimate has {est.size} samples but the mixture {mix.size}; "
                             "pass the estimate aligned with its mixture")
    panels = [("Mixture", _magnitude(mix))]
    if reference is not None:
        ref = _mono(reference, "reference")
        if ref.size != mix.size:
            raise AudioDataError(f"reference has {ref.size} samples but the mixture {mix.size}; "
                                 "pass the true vocals of this mixture")
        panels.append(("True vocals", _magnitude(ref)))
    panels.append(("Estimated vocals", _magnitude(est)))
    mix_mag = panels[0][1]
    mask = np.clip(panels[-1][1] / np.maximum(mix_mag, 1e-8), 0.0, 1.0)

    plt = _pyplot()
    peak_db = 20 * np.log10(max(float(mix_mag.max()), 1e-8))
    seconds = mix.size / sample_rate
    top_hz = min(MAX_FREQUENCY_HZ, sample_rate / 2)
    extent = (0.0, seconds, 0.0, sample_rate / 2)
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(10, 2.4 * (len(panels) + 1)),
                             sharex=True, constrained_layout=True)
    for axis, (title, magnitude) in zip(axes, panels):
        db = 20 * np.log10(np.maximum(magnitude, 1e-8))
        image = axis.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma",
                            vmin=peak_db - DB_RANGE, vmax=peak_db, interpolation="nearest")
        fig.colorbar(image, ax=axis, label="dB", pad=0.01)
        axis.set_title(title)
    image = axes[-1].imshow(mask, origin="lower", aspect="auto", extent=extent, cmap="viridis",
                            vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=axes[-1], label="mask", pad=0.01)
    axes[-1].set_title("Implied mask |estimate| / |mixture|")
    for axis in axes:
        axis.set_ylabel("Frequency (Hz)")
        axis.set_ylim(0.0, top_hz)
    axes[-1].set_xlabel("Time (s)")
    return _save(fig, plt, path)


def plot_quality_bars(path: str | os.PathLike, sdr_by_method: dict[str, dict[str, float]],
                      title: str = "Vocals SDR (museval v4, median over 1 s frames)") -> Path:
    """Write a PNG bar chart: vocals SDR in dB per clip (x groups) and per method (bars).

    `sdr_by_method` maps method → {clip name → SDR dB}; NaN or missing values leave a gap.
    A last group shows the median over clips."""
    methods = list(sdr_by_method)
    if not methods:
        raise AudioDataError("no methods to plot; run the quality benchmark first")
    clips = sorted({clip for scores in sdr_by_method.values() for clip in scores})
    groups = [*clips, "median"]
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(min(18.0, 4.0 + 1.1 * len(groups)), 4.5), constrained_layout=True)
    width = 0.8 / len(methods)
    x = np.arange(len(groups))
    palette = "tab10" if len(methods) <= 10 else "tab20"  # one colour per method, never a repeat up to 20
    colors = plt.get_cmap(palette)
    for index, method in enumerate(methods):
        scores = sdr_by_method[method]
        values = [scores.get(clip, np.nan) for clip in clips]
        finite = [v for v in values if np.isfinite(v)]
        values.append(float(np.median(finite)) if finite else np.nan)
        axis.bar(x - 0.4 + width * (index + 0.5), values, width, label=method, color=colors(index % colors.N))
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xticks(x, groups, rotation=30, ha="right")
    axis.set_ylabel("Vocals SDR (dB)")
    axis.set_title(title)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, plt, path)
