"""One whole-signal ONNX separation (torch-free): the reference the runtime, the export check, the
quality benchmark and the tests compare against.

Unlike the runtime's `FrameEngine` (hop by hop, carried buffers), this runs the model over a whole
spectrogram in one call (or chunks with carried state): core STFT → log-magnitude, channels grouped as
the model takes them (`core.channel_groups`) → ONNX Runtime →
mask or magnitude on the mixture (a stereo mask model's pairs through the spatial Wiener filter,
`core.spatial_wiener`, over all frames at once) → core ISTFT. Look-ahead is compensated as in
`UNet.separate_offline`: L silent frames appended, the first L output frames dropped.
"""
from __future__ import annotations

import numpy as np
from isovox.core.channel_groups import group_channels, pad_to_groups, ungroup_channels
from isovox.core.features import LOG_FLOOR, log_magnitude
from isovox.core.masks import apply_output
from isovox.core.model_metadata import INPUT_NAME
from isovox.core.spatial_wiener import SpatialWiener, filters
from isovox.core.stft import istft, stft
from isovox.host.model_file import LoadedModel

SILENCE = float(np.log(LOG_FLOOR))   # the feature value of a silent bin


def zero_states(loaded: LoadedModel, batch: int) -> list[np.ndarray]:
    """Initial states (batch, C, F, context) float32 zeros, in graph order."""
    return [np.zeros((batch, *shape), dtype=np.float32) for shape in loaded.state_shapes]


def run_onnx(loaded: LoadedModel, features: np.ndarray, states: list[np.ndarray]) -> list[np.ndarray]:
    """One ORT call: features (batch, input_channels, bins, frames), states → [output, *next_states]."""
    feeds = {INPUT_NAME: np.ascontiguousarray(features, dtype=np.float32)}
    feeds.update(zip(loaded.state_input_names, states))
    return loaded.session.run([loaded.output_name, *loaded.state_output_names], feeds)


def run_sequence(loaded: LoadedModel, features: np.ndarray, chunk_frames: int | None = None) -> np.ndarray:
    """Whole sequence (batch, input_channels, bins, frames) from zero state in chunks with carried state.

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


def model_output(loaded: LoadedModel, spectrum: np.ndarray, chunk_frames: int | None = None) -> np.ndarray:
    """Raw output (mask or linear magnitude) for a whole mixture spectrum (channels, spectrum_bins,
    frames) → (channels, model_bins, frames), frame t belonging to input frame t (look-ahead compensated)."""
    lookahead = loaded.metadata.lookahead_frames
    features = group_channels(log_magnitude(spectrum, loaded.metadata.stft), loaded.input_channels)
    if lookahead:
        pad = np.full((*features.shape[:-1], lookahead), SILENCE, dtype=np.float32)
        features = np.concatenate([features, pad], axis=-1)
    return ungroup_channels(run_sequence(loaded, features, chunk_frames), spectrum.shape[0])[..., lookahead:]


def separate_vocals(loaded: LoadedModel, mixture: np.ndarray, chunk_frames: int | None = None,
                    spatial_wiener: bool = True) -> np.ndarray:
    """(channels, samples) mixture at the model's rate → (channels, samples) vocals, mixture phase."""
    config, kind = loaded.metadata.stft, loaded.metadata.output_kind
    spectrum = stft(mixture, config)
    if not (spatial_wiener and filters(loaded.input_channels, kind)):
        output = model_output(loaded, spectrum, chunk_frames)
        return istft(apply_output(spectrum, output, kind), config, mixture.shape[-1])
    padded = pad_to_groups(spectrum, 2)  # a lone last channel as a pair of copies, as the model sees it
    wiener = SpatialWiener(padded.shape[0], config.spectrum_bins, config.sample_rate / config.hop_samples)
    vocals = wiener.apply(padded, model_output(loaded, padded, chunk_frames))[:mixture.shape[0]]
    return istft(vocals, config, mixture.shape[-1])
