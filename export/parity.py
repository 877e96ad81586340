"""Does the ONNX file compute what the torch model computes? ORT beside torch on random and real input.

Three kinds of case, each reported as the max absolute difference over every output (the separation
output and all next states):
- random log-magnitudes and random states for several (batch, frames) shapes;
- the features of a real stereo clip (batch 2), whole sequence from zero state;
- the same clip streamed through ORT one frame per call (a fixed-frames graph: one chunk per call) with
  the state carried over, against the torch whole-sequence output and against ORT's own whole run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from isovox.core.channel_groups import group_channels
from isovox.core.features import log_magnitude
from isovox.core.stft import stft
from isovox.export.onnx_run import SILENCE, run_onnx, run_sequence
from isovox.export.reference_clip import ReferenceClip
from isovox.host.model_file import LoadedModel
from isovox.training.model import UNet

FP32_TOLERANCE = 1e-4
# (batch, frames): batch = model items (audio channels of a mono model: mono 1, stereo 2, 5.1 = 6; pairs of
# a stereo model); frames 1 = one streaming step
DEFAULT_SHAPES = ((1, 1), (2, 7), (6, 64), (2, 300), (1, 300))


@dataclass(frozen=True)
class ParityCase:
    name: str
    max_abs_diff: float


@dataclass(frozen=True)
class ParityReport:
    """Every case compared, and the tolerance the float32 graph must meet."""

    cases: tuple[ParityCase, ...]
    tolerance: float = FP32_TOLERANCE

    @property
    def max_abs_diff(self) -> float:
        return max(case.max_abs_diff for case in self.cases)

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance   # NaN fails too

    def worst(self) -> ParityCase:
        return max(self.cases, key=lambda case: np.nan_to_num(case.max_abs_diff, nan=np.inf))


def run_torch(model: UNet, features: np.ndarray, states: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """The torch model on the same input: [output, *next_states] as numpy.

    Runs on one torch thread: on a busy shared CPU the thread pool's contention made these small
    calls 10–100× slower (0.25 s for one frame of a tiny model)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            torch_states = [torch.from_numpy(s) for s in states] if states is not None else []
            result = model.eval()(torch.from_numpy(np.ascontiguousarray(features)), *torch_states)
    finally:
        torch.set_num_threads(threads)
    return [tensor.numpy() for tensor in result]


def _max_diff(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(first, second))


def clip_features(clip: ReferenceClip, loaded: LoadedModel) -> np.ndarray:
    """(items, input_channels, model_bins, frames) float32 log-magnitude features of the clip's stereo
    mixture, grouped as the model takes them (2 mono items, or 1 stereo pair)."""
    features = log_magnitude(stft(clip.mixture, loaded.metadata.stft), loaded.metadata.stft)
    return group_channels(features, loaded.input_channels)


def check_parity(model: UNet, loaded: LoadedModel, clip: ReferenceClip,
                 shapes: tuple[tuple[int, int], ...] = DEFAULT_SHAPES, tolerance: float = FP32_TOLERANCE,
                 seed: int = 0) -> ParityReport:
    """Compare ORT (`loaded`) with torch (`model`) on random shapes, the clip, and the clip streamed."""
    rng = np.random.default_rng(seed)
    cases = []
    bins = loaded.metadata.stft.model_bins
    if loaded.fixed_frames:  # a fixed time axis admits only its own frame count
        shapes = tuple(dict.fromkeys((batch, loaded.fixed_frames) for batch, _ in shapes))
    for batch, frames in shapes:
        # log-magnitudes span silence (log 1e-5 ≈ -11.5) to loud bins; states are activations
        features = rng.uniform(SILENCE, 3.0, (batch, loaded.input_channels, bins, frames)).astype(np.float32)
        states = [rng.standard_normal((batch, *shape)).astype(np.float32) for shape in loaded.state_shapes]
        difference = _max_diff(run_onnx(loaded, features, states), run_torch(model, features, states))
        cases.append(ParityCase(f"random batch {batch} × {frames} frames", difference))
    features = clip_features(clip, loaded)
    torch_whole = run_torch(model, features)[0]
    stream_label = f"{loaded.fixed_frames} frames" if loaded.fixed_frames else "1 frame"
    streamed = run_sequence(loaded, features, chunk_frames=1)
    difference = _max_diff([streamed], [torch_whole])
    cases.append(ParityCase(f"clip streamed ({stream_label} per call) vs torch whole", difference))
    if not loaded.fixed_frames:
        whole = run_sequence(loaded, features)
        cases.append(ParityCase("clip whole sequence vs torch", _max_diff([whole], [torch_whole])))
        cases.append(ParityCase("clip streamed vs ORT whole sequence", _max_diff([streamed], [whole])))
    return ParityReport(tuple(cases), tolerance)
