"""isovox — isolate the human voice from music, offline and live.

Public API (imported lazily so `import isovox` stays light and never imports torch):
`Separator` (files and arrays), `StreamingSeparator` (block by block), `VocalIsolator` and `Chain`
(pedalboard-style effects), `default_model_path()`, and the error types in `isovox.core.errors`.
"""
from __future__ import annotations

import importlib
from pathlib import Path

__version__ = "0.1.0"

# In a source checkout the subpackages live beside this folder (core/, host/, export/, training/), which
# pyproject maps to isovox.core etc.; when Python runs from the checkout's root, this folder shadows the
# installed package, so look for the subpackages beside it too.
_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "core" / "stft.py").is_file():
    __path__.append(str(_checkout))

_LAZY = {
    "Separator": "isovox.host.separator",
    "StreamingSeparator": "isovox.host.streaming",
    "VocalIsolator": "isovox.host.effects",
    "Chain": "isovox.host.effects",
    "default_model_path": "isovox.host.model_file",
    "IsovoxError": "isovox.core.errors",
}

# `Chain` stays out of __all__: `from isovox import *` beside `from pedalboard import *` must not
# shadow `pedalboard.Chain`; use it as `isovox.Chain` (or `from isovox import Chain`), as documented
__all__ = ["IsovoxError", "Separator", "StreamingSeparator", "VocalIsolator", "__version__", "default_model_path"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'isovox' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazy public API too, so `dir(isovox)` and tab completion show it before first use."""
    return sorted({*globals(), *_LAZY, *__all__})
