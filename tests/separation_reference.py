"""An independent whole-signal reference for the separation engine: core STFT → one ONNX Runtime run
over all frames → mask → core ISTFT. The streaming and chunked engines must match it."""
from __future__ import annotations

import numpy as np
from isovox.core.features import log_magnitude
from isovox.core.masks import apply_magnitude, apply_mask
from isovox.core.stft import istft, stft
from isovox.host.model_file import open_model


def reference_vocals(model_path, audio: np.ndarray) -> np.ndarray:
    """(channels, samples) at the model's rate → vocals (channels, samples), mixture phase."""
    loaded = open_model(model_path, "cpu")
    cfg, lookahead = loaded.metadata.stft, loaded.metadata.lookahead_frames
    spectrum = stft(audio, cfg)
    # look-ahead: L more frames of silence, and output frame t + L belongs to input frame t
    padded = np.concatenate([spectrum, np.zeros(spectrum.shape[:2] + (lookahead,), spectrum.dtype)], -1)
    states = {name: np.zeros((audio.shape[0], *shape), np.float32)
              for name, shape in zip(loaded.state_input_names, loaded.state_shapes)}
    features = np.ascontiguousarray(log_magnitude(padded, cfg)[:, None])
    output = loaded.session.run([loaded.output_name], {"log_magnitude": features, **states})[0]
    apply = apply_mask if loaded.metadata.output_kind == "mask" else apply_magnitude
    return istft(apply(spectrum, output[:, 0, :, lookahead:]), cfg, audio.shape[1])
