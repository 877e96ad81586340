"""The pictures: real matplotlib PNGs with the expected panels."""
from __future__ import annotations

import sys

import pytest
from isovox.core.errors import AudioDataError, AudioFileError, ToolMissingError
from isovox.training.benchmark.plots import plot_quality_bars, plot_separation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib", reason="plots need the [plot] extra")


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_separation_writes_a_png_with_a_panel_per_signal(tmp_path, music_like):
    mixture, sample_rate = music_like
    estimate = 0.5 * mixture
    with_reference = plot_separation(tmp_path / "with.png", sample_rate, mixture, estimate, reference=0.4 * mixture)
    without = plot_separation(tmp_path / "without.png", sample_rate, mixture[0], estimate[0])
    (w1, h1), (w2, h2) = _png_size(with_reference), _png_size(without)
    assert w1 == w2 and h1 > h2 > 300   # four stacked panels vs three
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temp file


def test_plot_separation_rejects_misaligned_estimate_and_missing_folder(tmp_path, music_like):
    mixture, sample_rate = music_like
    with pytest.raises(AudioDataError, match="aligned"):
        plot_separation(tmp_path / "x.png", sample_rate, mixture, mixture[:, :-10])
    with pytest.raises(AudioFileError, match="does not exist"):
        plot_separation(tmp_path / "missing" / "x.png", sample_rate, mixture, mixture)


def test_plot_quality_bars_writes_a_png(tmp_path):
    scores = {"mixture": {"a": -3.0, "b": -5.0}, "oracle IRM": {"a": 8.0, "b": float("nan")}}
    width, height = _png_size(plot_quality_bars(tmp_path / "bars.png", scores))
    assert width > 400 and height > 300


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch, music_like):
    mixture, sample_rate = music_like
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ToolMissingError, match="pip install"):
        plot_separation(tmp_path / "x.png", sample_rate, mixture, mixture)
