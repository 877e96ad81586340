"""isovox.export — checkpoint to ONNX with isovox metadata and a parity check (torch)."""
