"""isovox — isolate the human voice from music, offline and live.

Public API (imported lazily so `import isovox` stays light and never imports torch):
`Separator` (files and arrays), `StreamingSeparator` (block by block), `VocalIsolator` and `Chain`
(pedalboard-style effects), `default_model_path()`, and the error types in `isovox.core.errors`.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Separator": "isovox.host.separator",
    "StreamingSeparator": "isovox.host.streaming",
    "VocalIsolator": "isovox.host.effects",
    "Chain": "isovox.host.effects",
    "default_model_path": "isovox.host.model_file",
    "IsovoxError": "isovox.core.errors",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'isovox' has no attribute {name!r}")
