"""isovox.host — the torch-free runtime: ONNX Runtime back ends, offline and streaming separators,
live audio, MIDI, pedalboard integration and the `isovox` command line."""
