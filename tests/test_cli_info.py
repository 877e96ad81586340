"""`isovox info MODEL`: metadata, file size and providers, as text and JSON, through the real CLI."""
from __future__ import annotations

import json

import pytest
from isovox.host.cli import main
from isovox.host.model_file import default_model_path


def test_info_text_shows_metadata_size_and_providers(tiny_lookahead_model_path, capfd):
    assert main(["info", str(tiny_lookahead_model_path)]) == 0
    captured = capfd.readouterr()
    out = captured.out
    size_mb = f"{tiny_lookahead_model_path.stat().st_size / 1e6:.2f} MB"
    for expected in (size_mb, "format version:     1", "44100 Hz, n_fft 1024, hop 512, window sqrt_hann",
                     "look-ahead:         2 frames", "output:             mask",
                     "latency:            2047 samples (46.42 ms)", "training data:      random weights (tests)",
                     "CPUExecutionProvider", "used with --device auto:", "isovox.receptive_field_frames = ",
                     "isovox.precision = float32", "frames per call: any (dynamic time axis)"):
        assert expected in out, expected
    assert captured.err == ""   # the CUDA provider's load failure is a note, not log noise


def test_info_json_is_complete_and_names_the_provider_that_runs(tiny_model_path, capfd):
    assert main(["info", str(tiny_model_path), "--json", "--device", "cpu"]) == 0
    info = json.loads(capfd.readouterr().out)
    assert info["size_bytes"] == tiny_model_path.stat().st_size
    assert info["metadata"]["stft"] == {"sample_rate": 44100, "n_fft": 1024, "hop_samples": 512,
                                        "window": "sqrt_hann"}
    assert info["metadata"]["format_version"] == 1 and info["metadata"]["output_kind"] == "mask"
    assert info["metadata"]["receptive_field_frames"] == sum(s[2] for s in info["states"])
    assert info["providers"]["used"] == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in info["providers"]["available"]
    assert info["frames_per_call"] is None and info["precision"] == "float32"
    assert set(info["properties"]) >= {"isovox.training_data", "isovox.code_revision", "isovox.model_config"}


def test_info_on_default(capfd):
    code = main(["info"])
    captured = capfd.readouterr()
    if default_model_path().is_file():
        assert code == 0 and "default.onnx" in captured.out
    else:
        err = captured.err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert "no default model is installed" in err and "isovox export" in err


def test_info_rejects_an_unknown_device(tiny_model_path, capsys):
    with pytest.raises(SystemExit):
        main(["info", str(tiny_model_path), "--device", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
