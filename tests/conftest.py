"""Shared fixtures: small real ONNX models made by the project's own export path, and test signals."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _export_random_model(path: Path, seed: int, frames: int | None = None, opset: int | None = None,
                         **config_overrides) -> Path:
    """A randomly initialised U-Net exported through `isovox.export` (weights random, not trained);
    `random_models.make_random_model(seed, **config_overrides)` rebuilds the same torch model."""
    pytest.importorskip("torch", reason="building test models needs the [train] extra")
    from isovox.export import DEFAULT_OPSET
    from isovox.export.onnx_export import build_metadata, export_onnx
    from random_models import TEST_CODE_REVISION, make_random_model

    model = make_random_model(seed, **config_overrides)
    metadata = build_metadata(model, training_data="random weights (tests)", code_revision=TEST_CODE_REVISION)
    export_onnx(model.eval(), path, metadata, opset=opset or DEFAULT_OPSET, frames=frames)
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A small causal (look-ahead 0) mask model, 44.1 kHz, n_fft 1024, hop 512."""
    return _export_random_model(tmp_path_factory.mktemp("models") / "tiny.onnx", seed=0)


@pytest.fixture(scope="session")
def fixed_frames_model_path(tmp_path_factory) -> Path:
    """A model exported with a fixed time axis of 7 frames at opset 17 (what the host refuses):
    `make_random_model(seed=3, lookahead_frames=2)`."""
    return _export_random_model(tmp_path_factory.mktemp("models") / "fixed.onnx", seed=3, frames=7, opset=17,
                                lookahead_frames=2)


@pytest.fixture(scope="session")
def tiny_lookahead_model_path(tmp_path_factory) -> Path:
    """Like `tiny_model_path` but with 2 frames of look-ahead."""
    return _export_random_model(tmp_path_factory.mktemp("models") / "tiny_la2.onnx", seed=1,
                                lookahead_frames=2)


@pytest.fixture(scope="session")
def tiny_gru_model_path(tmp_path_factory) -> Path:
    """Like `tiny_model_path` but band-split 8 with a bottleneck GRU (one more carried state)."""
    return _export_random_model(tmp_path_factory.mktemp("models") / "tiny_gru.onnx", seed=4, band_split=8,
                                skip_mode="add", gru_units=6)


@pytest.fixture(scope="session")
def tiny_stereo_model_path(tmp_path_factory) -> Path:
    """Like `tiny_gru_model_path` without the GRU, as a stereo model (a channel pair per batch item)."""
    return _export_random_model(tmp_path_factory.mktemp("models") / "tiny_stereo.onnx", seed=5, band_split=8,
                                skip_mode="add", input_channels=2)


def shipped_architecture() -> dict:
    """The architecture of the shipped default model, read off its own metadata (channels, band split…)."""
    import json

    import onnx
    from isovox.host.model_file import default_model_path

    props = {p.key: p.value for p in onnx.load(str(default_model_path()), load_external_data=False).metadata_props}
    config = json.loads(props["isovox.model_config"])
    return {key: tuple(value) if key == "channels" else value for key, value in config.items()
            if key in ("channels", "time_kernel", "dilation_growth", "output_kind", "band_split", "skip_mode",
                       "mask_max", "gru_units", "input_channels")}


@pytest.fixture(scope="session")
def shipped_architecture_model_path(tmp_path_factory) -> Path:
    """A random model with the shipped default model's own architecture (so tests cover what ships)."""
    return _export_random_model(tmp_path_factory.mktemp("models") / "shipped_arch.onnx", seed=2,
                                **shipped_architecture())


@pytest.fixture(scope="session")
def music_like(tmp_path_factory) -> tuple[np.ndarray, int]:
    """(2, samples) float32 at 44.1 kHz, 3 s: a harmonic 'voice' with vibrato over chords and clicks."""
    sample_rate = 44100
    t = np.arange(3 * sample_rate) / sample_rate
    rng = np.random.default_rng(0)
    f0 = 220 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 0.7 * t) > -0.3)
    chords = sum(np.sin(2 * np.pi * f * t) for f in (130.8, 164.8, 196.0)) * 0.2
    clicks = np.zeros_like(t)
    clicks[:: sample_rate // 4] = 1.0
    clicks = np.convolve(clicks, rng.standard_normal(200) * np.exp(-np.arange(200) / 30), mode="same")
    left = 0.3 * voice + chords + 0.3 * clicks
    right = 0.25 * voice + 0.8 * chords + 0.35 * clicks
    return np.stack([left, right]).astype(np.float32) * 0.3, sample_rate
