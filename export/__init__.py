"""isovox.export — checkpoint to ONNX with isovox metadata and a parity check (torch)."""

# Shared by the torch-free CLI module and the exporter. The dynamo exporter's native opset; 17 works
# through its version converter, lower ones do not.
DEFAULT_OPSET = 18
