"""`isovox info MODEL`: metadata, file size and providers, as text and JSON, through the real CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
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


def test_info_says_a_stereo_model_goes_through_the_spatial_wiener_filter(tiny_stereo_model_path, capfd):
    assert main(["info", str(tiny_stereo_model_path), "--device", "cpu"]) == 0
    assert "output:             mask; stereo pairs through the spatial Wiener filter" in capfd.readouterr().out


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
    assert info["spatial_wiener"] is False  # a mono model: masks as they are
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


def test_auto_on_a_machine_without_a_gpu_runs_on_cpu_without_a_warning(tiny_model_path, tmp_path):
    """onnxruntime-gpu lists CUDA even with no GPU: `auto` must not try it (and warn) on every run."""
    import subprocess
    import sys
    import warnings

    from isovox.host.model_file import nvidia_gpu_present, open_model

    if nvidia_gpu_present():
        pytest.skip("this machine has an NVIDIA GPU")
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # any warning fails the test
        loaded = open_model(tiny_model_path, device="auto")
    assert loaded.provider == "CPUExecutionProvider"
    assert loaded.provider_note == "no NVIDIA GPU found, so CUDA was not tried"
    source = tmp_path / "in.wav"
    sf.write(str(source), np.zeros((8000, 2), np.float32), 44100)
    result = subprocess.run([sys.executable, "-m", "isovox", "separate", str(source), "-o",
                             str(tmp_path / "v.wav"), "--model", str(tiny_model_path)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "CUDA" not in result.stdout
    info = subprocess.run([sys.executable, "-m", "isovox", "info", str(tiny_model_path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert "CPUExecutionProvider (no NVIDIA GPU found, so CUDA was not tried)" in info.stdout


def test_a_gpu_whose_cuda_provider_fails_is_warned_about(tiny_model_path, monkeypatch):
    import warnings

    from isovox.host import model_file

    if "CUDAExecutionProvider" not in model_file.available_providers():
        pytest.skip("this onnxruntime has no CUDA provider")
    monkeypatch.setattr(model_file, "nvidia_gpu_present", lambda: True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = model_file.open_model(tiny_model_path, device="auto")
    if loaded.provider == "CUDAExecutionProvider":
        assert caught == [] and loaded.provider_note == "the CUDA provider loaded"
    else:                                     # a GPU is present (as far as isovox can tell) but CUDA fails
        assert [str(w.message) for w in caught] == [f"{loaded.provider_note}; running on CPU"]
        assert "CUDA provider failed to load" in loaded.provider_note
