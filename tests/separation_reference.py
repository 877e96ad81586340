"""An independent whole-signal reference for the separation engine: `export.onnx_run` (core STFT → one
ONNX Runtime run over all frames → mask → core ISTFT). The streaming and chunked engines must match it."""
from __future__ import annotations

import numpy as np
from isovox.export.onnx_run import separate_vocals
from isovox.host.model_file import open_model


def reference_vocals(model_path, audio: np.ndarray) -> np.ndarray:
    """(channels, samples) at the model's rate → vocals (channels, samples), mixture phase."""
    return separate_vocals(open_model(model_path, "cpu"), audio)
