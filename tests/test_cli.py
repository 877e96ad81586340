"""The `isovox` dispatcher: a subcommand whose optional extra is missing says how to install it."""
from __future__ import annotations

import subprocess
import sys

import pytest
from isovox.host import cli

# a fresh interpreter without the [train] extra: importing any of its modules raises ImportError
WITHOUT_TRAIN = ("import sys; sys.modules.update(dict.fromkeys(('torch', 'onnx', 'onnxscript', 'museval', "
                 "'mido', 'scipy'))); from isovox.host.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("argv, module", [
    (["train", "--data", "{tmp}", "--out", "{tmp}/run"], "torch"),
    (["export", "{tmp}/best.pt", "-o", "{tmp}/m.onnx"], "onnx"),
    (["make-corpus", "{tmp}/corpus", "--minutes", "1"], "mido"),
])
def test_without_the_train_extra_the_fix_is_named(tmp_path, argv, module):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    result = subprocess.run([sys.executable, "-c", WITHOUT_TRAIN, *argv], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr == (f"isovox: error: `isovox {argv[0]}` needs {module}, which the [train] extra "
                             "installs: pip install 'isovox[train]'\n")
    assert not (tmp_path / "run").exists() and not (tmp_path / "corpus").exists()


def test_other_missing_modules_stay_internal_errors(monkeypatch, capsys):
    def run(_args):
        import no_such_module_anywhere  # noqa: F401

    monkeypatch.setattr(cli.importlib.import_module("isovox.host.cli_devices"), "run", run)
    assert cli.main(["devices"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("isovox: internal error: ModuleNotFoundError") and err.count("\n") == 1


@pytest.mark.parametrize("extra, message", [
    (["--resume", "--init-from", "{tmp}/last.pt"], "--resume and --init-from exclude each other"),
    (["--gru-units", "-1"], "--gru-units -1 ≥ 0"),
    (["--accompaniment-eq", "1.5"], "--accompaniment-eq 1.5 must be a probability in 0..1"),
    (["--accompaniment-speed", "-0.1"], "--accompaniment-speed -0.1 must be a probability in 0..1"),
    (["--accompaniment-layers", "2"], "--accompaniment-layers 2.0 must be a probability in 0..1"),
])
def test_train_settings_that_conflict_are_one_line_errors(tmp_path, capsys, extra, message):
    pytest.importorskip("torch")
    argv = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
            *(arg.format(tmp=tmp_path) for arg in extra)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "run").exists()
