"""isovox.export — checkpoint to ONNX with isovox metadata and a parity check (torch)."""

# Shared by the torch-free CLI module and the exporter. 18 is the dynamo exporter's native opset;
# 16 and 17 work through its version converter; 15 and lower fail (no Identity adapter 16 → 15).
DEFAULT_OPSET = 18
MIN_OPSET = 16
