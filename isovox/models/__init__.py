"""The models shipped with isovox: default.onnx (see MODEL_CARD.md)."""
