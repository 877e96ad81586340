"""`isovox separate` on several files and folders through the real CLI: layout, templates, formats,
skipping, per-file failures, clipping, parallel jobs."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from isovox.host.cli import main


def separate(model, *args) -> int:
    return main(["separate", *map(str, args), "--model", str(model), "--device", "cpu"])


@pytest.fixture()
def tracks(tmp_path, music_like):
    """a.mp3 (48 kHz), b.flac (mono, 22.05 kHz), album/ with c.aiff and d.wav (and what a scan skips)."""
    audio, rate = music_like
    short = audio[:, :40000]
    sf.write(str(tmp_path / "a.mp3"), short.T, 48000)
    sf.write(str(tmp_path / "b.flac"), short[:1].T, 22050)
    album = tmp_path / "album"
    (album / "bonus").mkdir(parents=True)
    sf.write(str(album / "c.aiff"), short.T, rate, subtype="PCM_24")
    sf.write(str(album / "d.wav"), short.T, rate, subtype="FLOAT")
    sf.write(str(album / "bonus" / "e.wav"), short.T, rate)         # subfolders are not scanned
    (album / ".hidden.wav").write_bytes(b"")
    (album / "notes.txt").write_text("not audio")
    return tmp_path


def _shape(path):
    info = sf.info(str(path))
    return info.samplerate, info.channels, info.frames


def test_files_and_a_folder_into_one_folder_per_track(tiny_model_path, tracks, capsys):
    out = tracks / "out"
    code = separate(tiny_model_path, tracks / "a.mp3", tracks / "b.flac", tracks / "album", "-o", f"{out}/",
                    "--stems", "vocals,accompaniment")
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "", captured.err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        f"{track}{suffix}" for track in "abcd" for suffix in ("", "/accompaniment.wav", "/vocals.wav")]
    sources = {"a": tracks / "a.mp3", "b": tracks / "b.flac", "c": tracks / "album" / "c.aiff",
               "d": tracks / "album" / "d.wav"}
    for track, source in sources.items():
        for stem in ("vocals", "accompaniment"):
            assert _shape(out / track / f"{stem}.wav") == _shape(source), (track, stem)
            assert str(out / track / f"{stem}.wav") in captured.out
    assert sf.info(str(out / "c" / "vocals.wav")).subtype == "PCM_24"       # the input's bit depth
    assert "isovox: 4 separated, 0 skipped, 0 failed" in captured.out


def test_out_naming_an_existing_folder_works_for_one_file(tiny_model_path, tracks, capsys):
    (tracks / "existing").mkdir()
    assert separate(tiny_model_path, tracks / "album" / "d.wav", "-o", tracks / "existing", "-q") == 0
    assert capsys.readouterr().out == ""
    assert _shape(tracks / "existing" / "d" / "vocals.wav") == _shape(tracks / "album" / "d.wav")


def test_existing_stem_files_are_kept_unless_overwrite(tiny_model_path, tracks, capsys):
    source, out = tracks / "album" / "d.wav", tracks / "out"
    assert separate(tiny_model_path, source, "-o", out, "-q") == 0
    vocals = out / "d" / "vocals.wav"
    sf.write(str(vocals), np.zeros((10, 2), np.float32), 44100)          # a file the user wants kept
    kept = vocals.read_bytes()
    assert separate(tiny_model_path, source, "-o", out, "--stems", "vocals,accompaniment") == 0
    stdout = capsys.readouterr().out
    assert vocals.read_bytes() == kept and (out / "d" / "accompaniment.wav").is_file()  # only the missing one
    assert f"kept: {vocals} (exists; --overwrite replaces it)" in stdout
    assert separate(tiny_model_path, source, "-o", out) == 0
    assert "isovox: 0 separated, 1 skipped, 0 failed" in capsys.readouterr().out
    assert separate(tiny_model_path, source, "-o", out, "--overwrite", "-q") == 0
    assert _shape(vocals) == _shape(source)


def test_one_bad_file_gets_its_line_and_the_others_go_on(tiny_model_path, tracks, capsys):
    good = tracks / "album" / "d.wav"
    flac = (tracks / "b.flac").read_bytes()
    (tracks / "corrupt.flac").write_bytes(flac[:len(flac) // 2])         # fails midway, while separating
    (tracks / "phone.m4a").write_bytes(b"\x00\x00\x00\x1cftypM4A " + os.urandom(2000))
    (tracks / "empty").mkdir()
    out = tracks / "out"
    code = separate(tiny_model_path, tracks / "corrupt.flac", tracks / "phone.m4a", tracks / "missing.wav",
                    tracks / "empty", good, "-o", out)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2 and len(lines) == 4 and all(line.startswith("isovox: error: ") for line in lines), lines
    assert "corrupt.flac' is corrupt or truncated" in captured.err
    assert "phone.m4a' is M4A/AAC audio, which isovox cannot read" in captured.err
    assert "ffmpeg -i" in captured.err and "missing.wav' does not exist" in captured.err
    assert "folder" in lines[0] and "empty" in lines[0] and "holds no audio files" in lines[0]
    assert "Traceback" not in captured.err
    assert "isovox: 1 separated, 0 skipped, 4 failed" in captured.out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["d", "d/vocals.wav"]


def test_filename_template_format_and_bit_depth(tiny_model_path, tracks):
    out = tracks / "out"
    assert separate(tiny_model_path, tracks / "album", "-o", out, "--filename", "{stem}/{track}.{ext}",
                    "--format", "flac", "--bit-depth", "16", "--stems", "vocals,accompaniment", "-q") == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.flac")) == [
        "accompaniment/c.flac", "accompaniment/d.flac", "vocals/c.flac", "vocals/d.flac"]
    assert {sf.info(str(p)).subtype for p in out.rglob("*.flac")} == {"PCM_16"}
    assert separate(tiny_model_path, tracks / "a.mp3", "-o", out, "--filename", "{track}-{stem}.{ext}",
                    "--format", "mp3", "-q") == 0
    assert _shape(out / "a-vocals.mp3") == _shape(tracks / "a.mp3")


def test_float_input_to_flac_keeps_24_bits_and_mp3_out_of_one_file(tiny_model_path, tracks):
    assert separate(tiny_model_path, tracks / "album" / "d.wav", "-o", tracks / "v.flac", "-q") == 0
    assert sf.info(str(tracks / "v.flac")).subtype == "PCM_24"
    assert separate(tiny_model_path, tracks / "album" / "c.aiff", "-o", tracks / "v.mp3", "-q") == 0
    assert _shape(tracks / "v.mp3") == _shape(tracks / "album" / "c.aiff")


def test_two_inputs_with_one_name_do_not_overwrite_each_other(tiny_model_path, tracks, capsys):
    sf.write(str(tracks / "a.wav"), np.zeros((5000, 2), np.float32), 44100)
    assert separate(tiny_model_path, tracks / "a.mp3", tracks / "a.wav", "-o", tracks / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.wav' would write" in err and "as '" in err
    assert (tracks / "out" / "a" / "vocals.wav").is_file()


def test_no_output_of_a_batch_replaces_any_of_its_inputs(tiny_model_path, tracks, capsys):
    album = tracks / "album"
    sf.write(str(album / "e.flac"), np.zeros((5000, 2), np.float32), 44100)
    before = {p: p.read_bytes() for p in album.iterdir() if p.is_file()}
    assert separate(tiny_model_path, album, "-o", album, "--filename", "d.{ext}") == 2   # every track → d.wav
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all("is the input file; isovox never overwrites its input" in line
                                   for line in lines), lines
    assert {p: p.read_bytes() for p in album.iterdir() if p.is_file()} == before


@pytest.fixture()
def loud(tmp_path, music_like):
    """A float WAV louder than full scale (peak 3: at least one stem goes beyond ±1), as a summing
    stage can leave it."""
    audio, rate = music_like
    loud = (audio / np.abs(audio).max() * 3.0).astype(np.float32)
    path = tmp_path / "loud.wav"
    sf.write(str(path), loud.T, rate, subtype="FLOAT")
    return path, loud


def _stems(out):
    vocals, _ = sf.read(str(out / "loud" / "vocals.wav"), dtype="float32", always_2d=True)
    accompaniment, _ = sf.read(str(out / "loud" / "accompaniment.wav"), dtype="float32", always_2d=True)
    return vocals.T, accompaniment.T


@pytest.mark.parametrize("bit_depth, mode", [("24", None), ("24", "clamp"), ("24", "rescale"),
                                             ("32f", None), ("32f", "none")])
def test_clipping_is_counted_warned_once_and_handled(tiny_model_path, loud, tmp_path, capsys, bit_depth,
                                                     mode):
    path, mixture = loud
    out = tmp_path / "out"
    extra = ["--clip-mode", mode] if mode else []
    assert separate(tiny_model_path, path, "-o", out, "--stems", "vocals,accompaniment", "--bit-depth",
                    bit_depth, *extra) == 0
    err = capsys.readouterr().err
    vocals, accompaniment = _stems(out)
    if bit_depth == "32f":                                 # float output: kept, exact to float32 rounding
        assert err == ""
        assert max(np.abs(vocals).max(), np.abs(accompaniment).max()) > 1.0
        np.testing.assert_allclose(vocals.astype(np.float64) + accompaniment, mixture, rtol=0, atol=4.8e-7)
        return
    assert err.count("\n") == 1 and err.startswith(f"isovox: warning: {path}: ")
    count = int(err.split(": ")[3].split()[0])
    assert count > 0 and ("in vocals.wav" in err or "in accompaniment.wav" in err)
    assert max(np.abs(vocals).max(), np.abs(accompaniment).max()) <= 1.0
    if mode == "rescale":                                  # one gain for both: they still sum to the mixture
        gain = float(np.sum((vocals + accompaniment) * mixture) / np.sum(mixture * mixture))
        assert f"scaled by {20 * np.log10(gain):.2f} dB so that none clips" in err
        np.testing.assert_allclose(vocals + accompaniment, mixture * gain, atol=1e-6)   # 24-bit rounding
    else:
        assert "clipped" in err and "--clip-mode rescale" in err


def test_parallel_jobs_write_what_one_job_writes(tiny_model_path, tracks):
    """--jobs 2 through the installed entry point (spawned worker processes)."""
    inputs = [tracks / "a.mp3", tracks / "b.flac", tracks / "album"]
    common = ["--model", str(tiny_model_path), "--device", "cpu", "--bit-depth", "32f"]
    assert separate(tiny_model_path, *inputs, "-o", tracks / "one", "-q", "--bit-depth", "32f") == 0
    result = subprocess.run([sys.executable, "-m", "isovox", "separate", *map(str, inputs), "-o",
                             str(tracks / "two"), "--jobs", "2", *common], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "isovox: running on CPUExecutionProvider, 2 files at once" in result.stdout
    assert "isovox: 4 separated, 0 skipped, 0 failed" in result.stdout
    for track in "abcd":
        one, _ = sf.read(str(tracks / "one" / track / "vocals.wav"), dtype="float32")
        two, _ = sf.read(str(tracks / "two" / track / "vocals.wav"), dtype="float32")
        np.testing.assert_allclose(two, one, atol=1e-5)   # ORT's thread count may change the last bits


def test_cli_choices_match_the_library():
    from isovox.core.audio_io import BIT_DEPTHS, CLIP_MODES
    from isovox.host import cli_separate
    from isovox.host.batch import EXTENSIONS

    assert cli_separate.FORMAT_CHOICES == tuple(EXTENSIONS)
    assert cli_separate.BIT_DEPTH_CHOICES == tuple(BIT_DEPTHS)
    assert cli_separate.CLIP_MODE_CHOICES == CLIP_MODES
