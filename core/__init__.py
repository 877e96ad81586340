"""isovox.core — torch-free DSP shared by training, export and the host.

Layers: `stft` (the one analysis/synthesis contract) → `features` (log-magnitude model input) →
`masks` (apply a mask, ideal masks) → `phase` (mixture phase, Griffin-Lim) ; plus `audio_io`,
`metrics`, `model_metadata` (what an isovox ONNX file declares) and `errors`.
"""
