"""The top-level folders are the subpackages of one `isovox` package, also from a source checkout."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_subpackages_import_from_the_checkout_root_without_an_install():
    # -S: no site-packages, so neither an installed nor an editable isovox can answer the import
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import isovox.core.errors, isovox.host, "
            "isovox.export, isovox.training; print(isovox.core.errors.__file__)")
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT / "core" / "errors.py"


def test_no_bare_top_level_packages_are_importable_by_name():
    code = "import importlib.util as u; print([n for n in ('core', 'host', 'export', 'training') if u.find_spec(n)])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/",
                            check=False)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_dir_lists_the_public_api_before_it_is_imported():
    code = ("import sys, isovox; names = dir(isovox); print(sorted(set(isovox.__all__) - set(names))); "
            "print('isovox.host.separator' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stdout.split("\n")[:2] == ["[]", "False"], result.stdout + result.stderr  # still lazy


def test_runtime_dependencies_are_only_what_separation_and_live_need():
    """librosa (numba, scikit-learn: ~400 MB), museval and matplotlib are benchmark extras, torch a
    training one: a fresh `pip install isovox` stays slim (475 MB, most of it onnxruntime-gpu)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[<>=;\[ ]", requirement, maxsplit=1)[0] for requirement in project["dependencies"]}
    assert runtime.isdisjoint({"librosa", "museval", "matplotlib", "torch", "scipy"}), runtime
    assert {"librosa", "museval", "matplotlib"} <= {
        re.split(r"[<>=;\[ ]", requirement, maxsplit=1)[0] for requirement in project["optional-dependencies"]["bench"]}


def test_a_star_import_keeps_pedalboards_chain_and_isovox_chain_stays_importable():
    code = ("from pedalboard import *; from isovox import *; import pedalboard, isovox; "
            "from isovox import Chain as IsovoxChain; "
            "print(Chain is pedalboard.Chain, IsovoxChain is isovox.Chain, 'Chain' in dir(isovox))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stdout.strip() == "True True True", result.stdout + result.stderr
