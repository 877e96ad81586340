"""`isovox separate` through the real CLI: outputs, messages, and every bad input → one-line error."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import soundfile as sf
from isovox.host.cli import main


@pytest.fixture()
def song(tmp_path, music_like):
    audio, rate = music_like
    path = tmp_path / "song.wav"
    sf.write(str(path), audio.T, rate, subtype="PCM_16")
    return path


def separate(model, *args) -> int:
    return main(["separate", *map(str, args), "--model", str(model), "--device", "cpu"])


def test_writes_the_stems_and_names_the_provider(tiny_model_path, song, tmp_path, capsys):
    out = tmp_path / "song.vocals.flac"
    assert separate(tiny_model_path, song, "-o", out, "--stems", "vocals,accompaniment") == 0
    stdout = capsys.readouterr().out
    assert "CPUExecutionProvider" in stdout
    assert str(out) in stdout and str(tmp_path / "song.vocals.accompaniment.flac") in stdout
    vocals, rate = sf.read(str(out), dtype="float32")
    accompaniment, _ = sf.read(str(tmp_path / "song.vocals.accompaniment.flac"), dtype="float32")
    mixture, _ = sf.read(str(song), dtype="float32")
    assert rate == 44100 and vocals.shape == mixture.shape
    np.testing.assert_allclose(vocals + accompaniment, mixture, atol=2e-4)  # two 16-bit roundings


def test_quiet_prints_nothing(tiny_model_path, song, tmp_path, capsys):
    assert separate(tiny_model_path, song, "-o", tmp_path / "v.wav", "--quiet", "--phase", "griffinlim") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert sf.info(str(tmp_path / "v.wav")).frames == sf.info(str(song)).frames


def test_plot(tiny_model_path, song, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "fig.png"
    assert separate(tiny_model_path, song, "-o", tmp_path / "v.wav", "--plot", png, "--quiet") == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_fails_before_separating(tiny_model_path, song, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    assert separate(tiny_model_path, song, "-o", tmp_path / "v.wav", "--plot", tmp_path / "f.png") != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matplotlib" in err
    assert not (tmp_path / "v.wav").exists()


def test_help_documents_stem_naming(capsys):
    with pytest.raises(SystemExit):
        main(["separate", "--help"])
    assert "accompaniment" in capsys.readouterr().out


def _bad_inputs(tmp_path, song):
    """name → (input path, output path, extra arguments) that must fail cleanly."""
    audio, rate = sf.read(str(song), dtype="float32")
    cases = {"missing": (tmp_path / "nope.wav", tmp_path / "o.wav", [])}
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty"] = (tmp_path / "empty.wav", tmp_path / "o.wav", [])
    data = song.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:len(data) // 3])
    cases["truncated"] = (tmp_path / "cut.wav", tmp_path / "o.wav", [])
    sf.write(str(tmp_path / "c.flac"), audio, rate)
    flac = (tmp_path / "c.flac").read_bytes()
    (tmp_path / "corrupt.flac").write_bytes(flac[:len(flac) // 2])
    cases["corrupt"] = (tmp_path / "corrupt.flac", tmp_path / "o.wav", [])
    (tmp_path / "garbage.wav").write_bytes(os.urandom(5000))
    cases["garbage"] = (tmp_path / "garbage.wav", tmp_path / "o.wav", [])
    sf.write(str(tmp_path / "a.au"), audio, rate, format="AU")
    cases["unsupported input"] = (tmp_path / "a.au", tmp_path / "o.wav", [])
    (tmp_path / "a.m4a").write_bytes(b"\x00\x00\x00\x1cftypM4A " + os.urandom(3000))
    cases["m4a input"] = (tmp_path / "a.m4a", tmp_path / "o.wav", [])
    cases["unsupported output"] = (song, tmp_path / "o.m4a", [])
    sf.write(str(tmp_path / "hi.wav"), audio[:1000], 96000)
    cases["mp3 at 96 kHz"] = (tmp_path / "hi.wav", tmp_path / "o.mp3", [])
    cases["32f to flac"] = (song, tmp_path / "o.flac", ["--bit-depth", "32f"])
    cases["bit depth for mp3"] = (song, tmp_path / "o.mp3", ["--bit-depth", "24"])
    cases["format against OUT"] = (song, tmp_path / "o.wav", ["--format", "flac"])
    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "t.wav").write_bytes(song.read_bytes())
    cases["a folder in, one OUT"] = (tmp_path / "album", tmp_path / "o.wav", [])
    cases["plot of a batch"] = (song, tmp_path / "out", ["--plot", str(tmp_path / "fig.png")])
    cases["no jobs"] = (song, tmp_path / "o.wav", ["--jobs", "0"])
    cases["template field"] = (song, tmp_path / "out", ["--filename", "{artist}/{stem}.{ext}"])
    cases["template without stem"] = (song, tmp_path / "out", ["--filename", "{track}.{ext}", "--stems",
                                                               "vocals,accompaniment"])
    nan = audio.copy()
    nan[5000, 1] = np.nan
    sf.write(str(tmp_path / "nan.wav"), nan, rate, subtype="FLOAT")
    cases["nan"] = (tmp_path / "nan.wav", tmp_path / "o.wav", [])
    sf.write(str(tmp_path / "nine.wav"), np.zeros((1000, 9), np.float32), rate)
    cases["nine channels"] = (tmp_path / "nine.wav", tmp_path / "o.wav", [])
    sf.write(str(tmp_path / "low.wav"), np.zeros((1000, 1), np.float32), 4000)
    cases["4 kHz"] = (tmp_path / "low.wav", tmp_path / "o.wav", [])
    cases["out is in"] = (song, song, [])
    os.symlink(song, tmp_path / "link.wav")
    cases["out is a link to in"] = (song, tmp_path / "link.wav", [])
    cases["out folder missing"] = (song, tmp_path / "no" / "o.wav", [])
    cases["stem path is in"] = (song, tmp_path / "song.wav", ["--stems", "accompaniment,vocals"])
    cases["bad stems"] = (song, tmp_path / "o.wav", ["--stems", "vocals,drums"])
    cases["plot not png"] = (song, tmp_path / "o.wav", ["--plot", str(tmp_path / "fig.jpg")])
    return cases


def test_every_bad_input_is_one_line_and_leaves_nothing(tiny_model_path, song, tmp_path, capsys):
    for name, (source, out, extra) in _bad_inputs(tmp_path, song).items():
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        code = separate(tiny_model_path, source, "-o", out, *extra)
        err = capsys.readouterr().err
        assert code != 0, name
        assert err.count("\n") == 1 and err.startswith("isovox: error: "), (name, err)
        assert "Traceback" not in err
        after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        assert after == before, name  # no output, no temp file, input untouched
        assert not (tmp_path / "out").exists(), name


def test_missing_model_is_a_clean_error(song, tmp_path, capsys):
    assert separate(tmp_path / "none.onnx", song, "-o", tmp_path / "o.wav") != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.onnx" in err


@pytest.mark.parametrize("frames", [1, 300])
def test_shorter_than_one_window_still_works(tiny_model_path, tmp_path, frames):
    source = tmp_path / "short.flac"
    sf.write(str(source), np.full((frames, 1), 0.25, np.float32), 22050)
    assert separate(tiny_model_path, source, "-o", tmp_path / "v.ogg", "-q") == 0
    info = sf.info(str(tmp_path / "v.ogg"))
    assert (info.frames, info.channels, info.samplerate) == (frames, 1, 22050)


@pytest.mark.parametrize("flag, spatial_wiener", [(None, True), ("--no-spatial-wiener", False)])
def test_spatial_wiener_flag(tiny_stereo_model_path, song, tmp_path, flag, spatial_wiener):
    """On by default for a stereo model; --no-spatial-wiener applies its masks as they are."""
    from isovox.host.separator import Separator

    out = tmp_path / "v.wav"
    assert separate(tiny_stereo_model_path, song, "-o", out, "--bit-depth", "32f", *([flag] if flag else [])) == 0
    vocals, _ = sf.read(str(out), dtype="float32", always_2d=True)
    mixture, rate = sf.read(str(song), dtype="float32", always_2d=True)
    expected = {on: Separator(tiny_stereo_model_path, "cpu", spatial_wiener=on).separate(mixture.T, rate)
                for on in (True, False)}
    np.testing.assert_allclose(vocals.T, expected[spatial_wiener], atol=1e-6)
    assert np.abs(expected[True] - expected[False]).max() > 1e-3
