"""Reduced-precision variants of an exported float32 isovox graph (fp16, int8 dynamic quantisation).

Both keep the graph's inputs and outputs float32, so the host feeds and reads them exactly like the
float32 model (same names, shapes, metadata). What they cost and gain on this U-Net, ORT CPU, 1 thread:
- fp16 (`onnxruntime.transformers.float16`): half the file; CPU has few fp16 kernels, so ORT inserts
  casts and it runs *slower* than fp32 — it is meant for the CUDA provider.
- int8 (`onnxruntime.quantization.quantize_dynamic`): convolution weights as uint8 (`ConvInteger`, the
  CPU kernel exists for uint8×uint8 only; int8 weights ran 3× slower still), activations quantised per
  call. About a third of the file; on x86 CPU ORT's `ConvInteger` is slower than its float `Conv`.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx
from isovox.core.errors import ModelError
from isovox.export.onnx_export import PRECISION_KEY, set_properties

PRECISIONS = ("float32", "float16", "int8")


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """Reorder `graph.node` in place so every node comes after the producers of its inputs."""
    available = {""} | {i.name for i in graph.input} | {t.name for t in graph.initializer}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [i for i, node in enumerate(pending) if all(name in available for name in node.input)]
        if not ready:
            raise ModelError("the converted graph has a cycle or a dangling input; export without --fp16")
        for i in ready:
            ordered.append(pending[i])
            available.update(pending[i].output)
        pending = [node for i, node in enumerate(pending) if i not in set(ready)]
    del graph.node[:]
    graph.node.extend(ordered)


def to_float16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of `proto` (weights and compute), float32 inputs/outputs, metadata kept."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(onnx.ModelProto.FromString(proto.SerializeToString()),
                                         keep_io_types=True)
    # keep_io_types appends the input casts after their consumers: ORT accepts it, onnx.checker not
    _sort_topologically(converted.graph)
    set_properties(converted, {entry.key: entry.value for entry in proto.metadata_props})
    set_properties(converted, {PRECISION_KEY: "float16"})
    return converted


def to_int8(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A dynamically quantised copy of `proto`: uint8 convolution weights, metadata kept."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory(prefix="isovox-int8-") as workdir:
        source, target = Path(workdir) / "float32.onnx", Path(workdir) / "int8.onnx"
        onnx.save(proto, str(source))
        try:
            root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint on the root logger
            quantize_dynamic(source, target, weight_type=QuantType.QUInt8)
        except Exception as exc:  # noqa: BLE001 - the quantiser raises many types
            raise ModelError(f"int8 quantisation failed ({type(exc).__name__}: {str(exc)[:160]}); "
                             "export without --int8") from None
        finally:
            root.setLevel(level)
        quantized = onnx.load(str(target))
    set_properties(quantized, {entry.key: entry.value for entry in proto.metadata_props})
    set_properties(quantized, {PRECISION_KEY: "int8"})
    return quantized


def convert(proto: onnx.ModelProto, precision: str) -> onnx.ModelProto:
    """`proto` itself for "float32", else its float16 or int8 variant."""
    if precision not in PRECISIONS:
        raise ModelError(f"precision {precision!r} is not one of {PRECISIONS}")
    if precision == "float16":
        return to_float16(proto)
    if precision == "int8":
        return to_int8(proto)
    return proto
