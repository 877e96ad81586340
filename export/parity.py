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
from isovox.core.features import LOG_FLOOR, log_magnitude
from isovox.core.masks import apply_magnitude, apply_mask
from isovox.core.model_metadata import INPUT_NAME
from isovox.core.stft import istft, stft
from isovox.export.reference_clip import ReferenceClip
from isovox.host.model_file import LoadedModel
from isovox.training.model import UNet

FP32_TOLERANCE = 1e-4
# (batch, frames): batch = audio channels (mono 1, stereo 2, 5.1 = 6); frames 1 = one streaming step
DEFAULT_SHAPES = ((1, 1), (2, 7), (6, 64), (2, 300), (1, 300))
SILENCE = float(np.log(LOG_FLOOR))   # the feature value of a silent bin


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


def zero_states(loaded: LoadedModel, batch: int) -> list[np.ndarray]:
    """Initial states (batch, C, F, context) float32 zeros, in graph order."""
    return [np.zeros((batch, *shape), dtype=np.float32) for shape in loaded.state_shapes]


def run_onnx(loaded: LoadedModel, features: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
    """One ORT call: features (batch, 1, bins, frames), states → [output, *next_states]."""
    feeds = {INPUT_NAME: np.ascontiguousarray(features, dtype=np.float32)}
    feeds.update(zip(loaded.state_input_names, states))
    return loaded.session.run([loaded.output_name, *loaded.state_output_names], feeds)


def run_sequence(loaded: LoadedModel, features: np.ndarray, chunk_frames: int | None = None) -> np.ndarray:
    """Whole sequence (batch, 1, bins, frames) from zero state in chunks with carried state.

    `chunk_frames` None = one call (or the graph's fixed frames per call). The last chunk of a
    fixed-frames graph is padded with silence; causality makes the padding invisible in the output."""
    frames = features.shape[-1]
    chunk = loaded.fixed_frames or chunk_frames or frames
    states = zero_states(loaded, features.shape[0])
    outputs = []
    for start in range(0, frames, chunk):
        piece = features[..., start:start + chunk]
        if loaded.fixed_frames and piece.shape[-1] < chunk:
            pad = np.full((*piece.shape[:-1], chunk - piece.shape[-1]), SILENCE, dtype=np.float32)
            piece = np.concatenate([piece, pad], axis=-1)
        out, *states = run_onnx(loaded, piece, states)
        outputs.append(out)
    return np.concatenate(outputs, axis=-1)[..., :frames]


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
    """(2, 1, model_bins, frames) float32 log-magnitude features of the clip's mixture."""
    return log_magnitude(stft(clip.mixture, loaded.metadata.stft), loaded.metadata.stft)[:, None]


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
        features = rng.uniform(SILENCE, 3.0, (batch, 1, bins, frames)).astype(np.float32)
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


def separate_vocals(loaded: LoadedModel, mixture: np.ndarray) -> np.ndarray:
    """(channels, samples) mixture → (channels, samples) vocals estimate (mixture phase, offline).

    Look-ahead is compensated as in `UNet.separate_offline`: silence frames appended, lead dropped."""
    config = loaded.metadata.stft
    spectrum = stft(mixture, config)
    features = log_magnitude(spectrum, config)[:, None]
    lookahead = loaded.metadata.lookahead_frames
    if lookahead:
        pad = np.full((*features.shape[:-1], lookahead), SILENCE, dtype=np.float32)
        features = np.concatenate([features, pad], axis=-1)
    output = run_sequence(loaded, features, chunk_frames=256)[:, 0, :, lookahead:]
    apply = apply_mask if loaded.output_name == "mask" else apply_magnitude
    return istft(apply(spectrum, output), config, mixture.shape[-1])


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Plain signal-to-distortion ratio 10·log10(Σref² / Σ(ref − est)²) in dB, over all channels."""
    error = float(np.sum((reference.astype(np.float64) - estimate) ** 2))
    return float(10 * np.log10(max(float(np.sum(reference.astype(np.float64) ** 2)), 1e-20) / max(error, 1e-20)))
