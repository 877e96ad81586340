"""The host's model loader refuses ONNX files that break the isovox contract, naming what is wrong.

The files are real ONNX graphs built with onnx.helper (tiny, so each case shows one defect), opened by
real ONNX Runtime, both through `open_model` and through the `isovox info` command line."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="building test graphs needs the onnx package ([train] extra)")
from isovox.core.errors import ModelError
from isovox.core.model_metadata import ModelMetadata
from isovox.core.stft import StftConfig
from isovox.host.cli import main
from isovox.host.model_file import default_model_path, open_model, resolve_model_path
from onnx import TensorProto, helper

BINS = StftConfig().model_bins
SIGNAL = ["batch", 1, BINS, "frames"]
STATE = ["batch", 2, BINS, 2]


def contract_graph(path, *, signal=SIGNAL, state=STATE, next_state=None, elem=TensorProto.FLOAT,
                   output="mask", reduce_output=False, extra_input=False, properties=None):
    """Write a graph with the isovox contract's names: mask = sigmoid(input), next_state_0 = state_0.

    Each keyword breaks one part of the contract: shapes, element type, output name, a reduced output,
    a sliced state, an extra input, or the metadata."""
    inputs = [helper.make_tensor_value_info("log_magnitude", elem, signal),
              helper.make_tensor_value_info("state_0", elem, state)]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("gain", elem, [1]))
    output_shape = [*signal[:2], 1, signal[3]] if reduce_output else signal
    outputs = [helper.make_tensor_value_info(output, elem, output_shape),
               helper.make_tensor_value_info("next_state_0", elem, next_state or state)]
    nodes = [helper.make_node("ReduceMean", ["log_magnitude"], [output], axes=[2], keepdims=1)
             if reduce_output else helper.make_node("Sigmoid", ["log_magnitude"], [output])]
    initializers = []
    if next_state is not None:  # keep the last context frame only: a state that shrinks
        initializers = [onnx.numpy_helper.from_array(np.array([v], np.int64), name)
                        for name, v in (("starts", 1), ("ends", 2), ("axes", 3))]
        nodes.append(helper.make_node("Slice", ["state_0", "starts", "ends", "axes"], ["next_state_0"]))
    else:
        nodes.append(helper.make_node("Identity", ["state_0"], ["next_state_0"]))
    graph = helper.make_graph(nodes, "contract", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    props = ModelMetadata(stft=StftConfig(), output_kind="mask", state_count=1).to_properties()
    for key, value in (props if properties is None else properties).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def with_props(**changes) -> dict[str, str]:
    props = ModelMetadata(stft=StftConfig(), output_kind="mask", state_count=1).to_properties()
    props.update({f"isovox.{k}": v for k, v in changes.items()})
    return props


REFUSALS = {
    "no-metadata": ({"properties": {}}, "not an isovox model (no isovox.* metadata)"),
    "newer-format": ({"properties": with_props(format_version="2")}, "newer than this isovox supports"),
    "bad-metadata": ({"properties": with_props(sample_rate="fast")}, "invalid isovox metadata"),
    "wrong-bins": ({"signal": ["batch", 1, 256, "frames"], "state": ["batch", 2, 256, 2]},
                   f"expected float32 [batch, 1, {BINS}, frames]"),
    "stereo-graph-declared-mono": ({"signal": ["batch", 2, BINS, "frames"]}, "expected float32 [batch, 1,"),
    "mono-graph-declared-stereo": ({"properties": with_props(input_channels="2")},
                                   f"expected float32 [batch, 2, {BINS}, frames]"),
    "unknown-input-channels": ({"properties": with_props(input_channels="3")}, "input_channels 3 is not one of"),
    "fixed-batch": ({"signal": [2, 1, BINS, "frames"], "state": [2, 2, BINS, 2]}, "dynamic batch"),
    "float64": ({"elem": TensorProto.DOUBLE}, "tensor(double)"),
    "wrong-output-shape": ({"reduce_output": True}, "output 'mask' is tensor(float)"),
    "wrong-output-name": ({"output": "magnitude"}, "no output named 'mask'"),
    "state-changes-shape": ({"next_state": ["batch", 2, BINS, 1]}, "must come back with the shape"),
    "missing-state": ({"properties": with_props(state_count="2")}, "declares 2 states but"),
    "extra-input": ({"extra_input": True}, "inputs ['gain'] are not part of the isovox graph contract"),
}


def test_a_well_formed_graph_opens(tmp_path):
    loaded = open_model(contract_graph(tmp_path / "ok.onnx"), device="cpu")
    assert loaded.output_name == "mask" and loaded.state_shapes == [(2, BINS, 2)]
    assert loaded.fixed_frames is None and loaded.precision == "float32"
    assert loaded.properties["isovox.format_version"] == "1"
    states = [np.zeros((2, 2, BINS, 2), np.float32)]
    mask, _ = loaded.session.run(None, {"log_magnitude": np.zeros((2, 1, BINS, 3), np.float32),
                                        "state_0": states[0]})
    assert mask.shape == (2, 1, BINS, 3)


def test_a_stereo_graph_opens_and_older_files_are_mono(tmp_path):
    """`input_channels` 2 in the metadata opens a [batch, 2, bins, frames] graph; a file written before
    the property existed (format 1 without it) is a mono model."""
    stereo = open_model(contract_graph(tmp_path / "stereo.onnx", signal=["batch", 2, BINS, "frames"],
                                       properties=with_props(input_channels="2")), device="cpu")
    assert stereo.input_channels == 2 and "pairs" in stereo.metadata.channels
    older = with_props()
    del older["isovox.input_channels"]
    assert open_model(contract_graph(tmp_path / "older.onnx", properties=older), device="cpu").input_channels == 1


def test_a_fixed_time_axis_is_reported(tmp_path):
    loaded = open_model(contract_graph(tmp_path / "fixed.onnx", signal=["batch", 1, BINS, 7]), device="cpu")
    assert loaded.fixed_frames == 7


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_name_what_is_wrong(tmp_path, capfd, case):
    kwargs, fragment = REFUSALS[case]
    path = contract_graph(tmp_path / f"{case}.onnx", **kwargs)
    with pytest.raises(ModelError) as info:
        open_model(path, device="cpu")
    assert fragment in str(info.value) and "\n" not in str(info.value)
    code = main(["info", str(path), "--device", "cpu"])
    err = capfd.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("isovox: error:"), err
    assert fragment in err


@pytest.mark.parametrize("content, fragment", [(None, "does not exist"),
                                               (b"not a protobuf at all \xff\xfe", "not a readable ONNX model")])
def test_missing_and_corrupt_files(tmp_path, capfd, content, fragment):
    path = tmp_path / "model.onnx"
    if content is not None:
        path.write_bytes(content)
    code = main(["info", str(path)])
    err = capfd.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and fragment in err, err


def test_default_resolves_to_the_shipped_model_or_says_it_is_missing():
    assert default_model_path().name == "default.onnx" and default_model_path().parent.name == "models"
    if default_model_path().is_file():
        assert resolve_model_path("default") == default_model_path()
    else:
        with pytest.raises(ModelError, match="no default model is installed"):
            resolve_model_path("default")


def test_the_host_loader_never_imports_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import isovox.host.model_file, isovox.host.cli_info\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
