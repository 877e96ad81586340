"""Export: torch U-Net → ONNX → ONNX Runtime parity, metadata round trip, variants, and the CLI's refusals."""
from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export needs the [train] extra")
onnx = pytest.importorskip("onnx", reason="export needs the [train] extra")

from isovox.core.errors import ModelError
from isovox.core.metrics import sdr_db
from isovox.core.model_metadata import ModelMetadata
from isovox.export.onnx_export import build_metadata, export_onnx
from isovox.export.onnx_run import SILENCE, run_sequence, separate_vocals
from isovox.export.parity import check_parity, clip_features
from isovox.export.quantize import convert
from isovox.export.reference_clip import reference_clip
from isovox.export.speed import measure_speed
from isovox.host.cli import main
from isovox.host.model_file import open_model
from isovox.training.checkpoint import save_checkpoint
from random_models import TEST_CODE_REVISION, make_random_model

BATCHES = (1, 2, 6)
FRAMES = (1, 7, 64, 300)
# (output kind, look-ahead, input channels): both modes, look-ahead 0 and 2 (mask with look-ahead 2: the
# fixed-frames test and the CLI test), and a band-split stereo model; each export costs seconds, so no
# full cross product
VARIANTS = (("mask", 0, 1), ("magnitude", 2, 1), ("mask", 1, 2))




@pytest.fixture(scope="module")
def clip():
    return reference_clip(44100, seconds=1.5)


def _variant_config(output_kind: str, lookahead: int, input_channels: int) -> dict:
    stereo = {"band_split": 8, "skip_mode": "add", "input_channels": 2} if input_channels == 2 else {}
    return {"output_kind": output_kind, "lookahead_frames": lookahead, **stereo}


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: f"{v[0]}-lookahead{v[1]}-in{v[2]}")
def exported(request, tmp_path_factory):
    """(torch model, LoadedModel, metadata) for one (output kind, look-ahead, input channels) variant; the
    causal mono mask model is the session's `tiny_model_path` (the same seed and configuration), not a
    second export."""
    model = make_random_model(seed=request.param[1], **_variant_config(*request.param))
    metadata = build_metadata(model, training_data="random weights (tests)", code_revision=TEST_CODE_REVISION)
    if request.param == ("mask", 0, 1):
        path = request.getfixturevalue("tiny_model_path")
    else:
        path = export_onnx(model, tmp_path_factory.mktemp("export") / "model.onnx", metadata)
    return model, open_model(path, device="cpu", intra_op_threads=1), metadata


def test_parity_over_batches_and_frames(exported, clip):
    model, loaded, _ = exported
    shapes = tuple(itertools.product(BATCHES, FRAMES))
    report = check_parity(model, loaded, clip, shapes=shapes)
    assert len(report.cases) == len(shapes) + 3
    assert report.passed, report.worst()
    assert report.max_abs_diff < 1e-4


def test_parity_detects_a_different_model(exported, clip):
    model, loaded, _ = exported
    changed = make_random_model(seed=99, **{name: getattr(model.config, name) for name in
                                            ("output_kind", "lookahead_frames", "band_split", "skip_mode",
                                             "input_channels")})
    report = check_parity(changed, loaded, clip, shapes=((1, 7),))
    assert not report.passed and report.max_abs_diff > 1e-3


def test_streaming_with_carried_state_equals_offline_with_lookahead(exported, clip):
    model, loaded, _ = exported
    lookahead = model.config.lookahead_frames
    features = clip_features(clip, loaded)
    padded = np.concatenate([features, np.full((*features.shape[:-1], lookahead), SILENCE, np.float32)], -1)
    for chunk in (1, 5, 64):
        streamed = run_sequence(loaded, padded, chunk_frames=chunk)[..., lookahead:]
        with torch.no_grad():
            offline = model.separate_offline(torch.from_numpy(features)).numpy()
        np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_metadata_round_trip(exported):
    model, loaded, metadata = exported
    assert loaded.metadata == metadata
    assert loaded.output_name == model.config.output_kind
    assert loaded.state_shapes == model.state_shapes()
    assert loaded.fixed_frames is None and loaded.precision == "float32"
    props = loaded.properties
    assert props["isovox.training_data"] == "random weights (tests)"
    assert props["isovox.code_revision"] == "abc1234"
    assert props["isovox.lookahead_frames"] == str(model.config.lookahead_frames)
    assert props["isovox.receptive_field_frames"] == str(model.receptive_field_frames)
    assert props["isovox.input_channels"] == str(model.config.input_channels) == str(loaded.input_channels)
    assert "dynamo=True" in props["isovox.exporter"]
    assert ModelMetadata.from_properties(props) == metadata


def test_fixed_frames_export_and_opsets(fixed_frames_model_path, tmp_path, clip):
    model = make_random_model(seed=3, lookahead_frames=2)
    path = fixed_frames_model_path
    loaded = open_model(path, device="cpu", intra_op_threads=1)
    assert loaded.fixed_frames == 7
    assert onnx.load(str(path)).opset_import[0].version == 17
    report = check_parity(model, loaded, clip, shapes=tuple((b, 7) for b in BATCHES))
    assert report.passed, report.worst()
    with pytest.raises(ModelError, match="opset 13"):
        export_onnx(model, tmp_path / "old.onnx", build_metadata(model), opset=13)   # refused up front
    assert not (tmp_path / "old.onnx").exists()


def _weight_bytes(proto) -> int:
    """Bytes of stored weights (the file's graph text is a large share of a tiny model's file)."""
    return sum(onnx.numpy_helper.to_array(t).nbytes for t in proto.graph.initializer)


def test_fp16_and_int8_variants(exported, clip, tmp_path):
    model, loaded, metadata = exported
    proto = onnx.load(str(loaded.path))
    reference = separate_vocals(loaded, clip.mixture)
    for precision, atol in (("float16", 1e-2), ("int8", 0.2)):
        path = tmp_path / f"{precision}.onnx"
        onnx.checker.check_model(converted := convert(proto, precision), full_check=True)
        onnx.save(converted, str(path))
        variant = open_model(path, device="cpu", intra_op_threads=1)
        assert variant.precision == precision and variant.metadata == metadata
        assert _weight_bytes(converted) < 0.6 * _weight_bytes(proto)
        report = check_parity(model, variant, clip, shapes=((2, 7),), tolerance=atol)
        assert report.passed, (precision, report.worst())
        assert sdr_db(reference, separate_vocals(variant, clip.mixture)) > 20


def test_speed_report_is_per_second_of_audio(exported):
    _, loaded, _ = exported
    speed = measure_speed(loaded.path, seconds=0.5, repeats=1)
    assert 0 < speed.offline_rtf < 5 and 0 < speed.streaming_rtf < 20
    assert speed.channels == 2 and speed.threads == 1


def test_sdr_db():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((2, 1000))
    assert sdr_db(reference, reference * 0.9) == pytest.approx(20.0)
    assert sdr_db(reference, reference) > 100


# --- the CLI ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(path, make_random_model(seed=5, lookahead_frames=2), epoch=2, training_data="3 songs, 90 s")
    return path


def _one_line_error(capfd, code: int, fragment: str) -> None:
    err = capfd.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("isovox: error:"), err
    assert fragment in err, err


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_export_writes_a_checked_model(checkpoint, tmp_path, capfd):
    output = tmp_path / "model.onnx"
    assert main(["export", str(checkpoint), "-o", str(output), "--dynamic"]) == 0
    out = capfd.readouterr().out
    assert "parity float32 ONNX Runtime vs torch: max |diff|" in out and "s per second of audio" in out
    loaded = open_model(output, device="cpu")
    assert loaded.metadata.training_data == "3 songs, 90 s"
    assert loaded.metadata.lookahead_frames == 2 and loaded.fixed_frames is None
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]   # no temp files left behind


@pytest.mark.slow
@pytest.mark.parametrize("flag, precision", [("--fp16", "float16"), ("--int8", "int8")])
def test_cli_export_variants_report_sdr_and_speed(checkpoint, tmp_path, capfd, flag, precision):
    output = tmp_path / "model.onnx"
    assert main(["export", str(checkpoint), "-o", str(output), flag]) == 0
    out = capfd.readouterr().out
    assert f"{precision} vs torch: max |diff|" in out and "SDR against the float32 estimate" in out
    assert f"{precision}:" in out and "s per second of audio" in out
    loaded = open_model(output, device="cpu")
    assert loaded.precision == precision and loaded.fixed_frames is None


def test_cli_refuses_missing_checkpoint(tmp_path, capfd):
    code = main(["export", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "m.onnx")])
    _one_line_error(capfd, code, "does not exist")
    assert not (tmp_path / "m.onnx").exists()


def test_cli_refuses_corrupt_checkpoint_and_keeps_the_old_output(tmp_path, capfd):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a checkpoint" * 10)
    output = tmp_path / "m.onnx"
    output.write_bytes(b"previous model")
    _one_line_error(capfd, main(["export", str(corrupt), "-o", str(output)]), "not a readable checkpoint")
    assert output.read_bytes() == b"previous model"


def test_cli_refuses_other_architectures(checkpoint, tmp_path, capfd):
    foreign = tmp_path / "foreign.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), foreign)
    _one_line_error(capfd, main(["export", str(foreign), "-o", str(tmp_path / "a.onnx")]),
                    "not an isovox checkpoint")
    payload = torch.load(checkpoint, weights_only=True)
    payload["model_config"]["channels"] = [4, 8, 16]   # the weights belong to (4, 8, 8)
    mismatched = tmp_path / "mismatched.pt"
    torch.save(payload, mismatched)
    _one_line_error(capfd, main(["export", str(mismatched), "-o", str(tmp_path / "b.onnx")]),
                    "does not match the isovox U-Net architecture")
    assert not list(tmp_path.glob("*.onnx"))


def test_cli_refuses_bad_outputs(checkpoint, tmp_path, capfd):
    before = _digest(checkpoint)
    _one_line_error(capfd, main(["export", str(checkpoint), "-o", str(checkpoint)]), "is the checkpoint itself")
    _one_line_error(capfd, main(["export", str(checkpoint), "-o", str(tmp_path)]), "is a directory")
    _one_line_error(capfd, main(["export", str(checkpoint), "-o", str(tmp_path / "no" / "m.onnx")]),
                    "does not exist")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(capfd, main(["export", str(checkpoint), "-o", str(blocker / "m.onnx")]), "does not exist")
    # /proc refuses new files even to root, unlike a chmod-ed folder
    _one_line_error(capfd, main(["export", str(checkpoint), "-o", "/proc/isovox-test.onnx"]), "is not writable")
    assert _digest(checkpoint) == before


def test_cli_refuses_an_unreachable_opset(checkpoint, tmp_path, capfd):
    output = tmp_path / "m.onnx"
    _one_line_error(capfd, main(["export", str(checkpoint), "-o", str(output), "--opset", "11"]), "opset 11")
    assert not output.exists()


def test_reference_clip_uses_espeak_ng_or_says_it_fell_back(monkeypatch):
    clip = reference_clip(44100, seconds=0.5)
    assert clip.vocals.shape == clip.accompaniment.shape == (2, 22050)
    assert np.abs(clip.vocals).max() > 0.05 and np.abs(clip.accompaniment).max() > 0.05
    monkeypatch.setenv("PATH", "")   # as on a machine without espeak-ng
    fallback = reference_clip(44100, seconds=0.5)
    assert "espeak-ng not found" in fallback.description
    assert not np.allclose(fallback.vocals, clip.vocals) or "espeak-ng not found" in clip.description
