"""The runtime never imports torch: every isovox.host and isovox.core module imports, and a file is
separated, in a fresh interpreter where `import torch` fails; nor the benchmark tools (matplotlib,
museval, librosa), which live in `isovox.training.benchmark`."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import soundfile as sf

SCRIPT = textwrap.dedent("""
    import importlib, pkgutil, sys
    sys.modules["torch"] = None  # any `import torch` now raises ImportError
    import isovox, isovox.core, isovox.host
    for package in (isovox.core, isovox.host):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
    heavy = sorted(name for name in ("matplotlib", "museval", "librosa") if name in sys.modules)
    assert not heavy, f"the runtime imported {heavy}"
    from isovox.host.cli import main
    code = main(["separate", sys.argv[1], "-o", sys.argv[2], "--model", sys.argv[3], "--device", "cpu", "-q"])
    assert code == 0, code
    stream = isovox.StreamingSeparator(sys.argv[3], device="cpu", channels=1)
    stream.process(__import__("numpy").zeros((1, 100), "float32"))
    print("torch-free", "torch" in sys.modules and sys.modules["torch"] is None)
""")


def test_host_runs_without_torch(tiny_model_path, tmp_path):
    source = tmp_path / "in.wav"
    sf.write(str(source), np.zeros((4000, 2), np.float32), 44100)
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(source), str(tmp_path / "out.wav"),
                             str(tiny_model_path)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch-free True" in result.stdout
    assert sf.info(str(tmp_path / "out.wav")).frames == 4000
