"""The `--fx` parser: pedalboard plugins named on the command line or in a JSON chain file."""
from __future__ import annotations

import json
from pathlib import Path

from isovox.core.errors import IsovoxError


class EffectSpecError(IsovoxError):
    """An effect named in --fx (or a chain file) is unknown or has a bad parameter."""


def _pedalboard_plugins() -> dict[str, type]:
    import pedalboard

    return {name.lower(): cls for name, cls in vars(pedalboard).items()
            if isinstance(cls, type) and issubclass(cls, pedalboard.Plugin)
            and name not in ("Plugin", "Pedalboard", "Chain", "Mix", "PluginContainer")
            and not name.startswith(("VST3", "AudioUnit", "External"))}


def _make_plugin(name: str, params: dict):
    known = _pedalboard_plugins()
    cls = known.get(name.lower().replace("_", ""))
    if cls is None:
        raise EffectSpecError(f"unknown effect {name!r}; known: {', '.join(sorted(known))}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise EffectSpecError(f"effect {name!r} rejects parameters {params}: {exc}; see pedalboard's "
                              f"documentation of {cls.__name__}") from exc


def plugins_from_spec(spec: str) -> list:
    """pedalboard plugins from ``"reverb,compressor:threshold_db=-20:ratio=4"`` or a JSON chain file
    holding ``[{"plugin": "Reverb", "room_size": 0.5}, ...]``."""
    path = Path(spec)
    if spec.endswith(".json") or path.is_file():
        try:
            entries = json.loads(path.read_text())
            return [_make_plugin(entry["plugin"], {k: v for k, v in entry.items() if k != "plugin"})
                    for entry in entries]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise EffectSpecError(f"chain file {spec!r} is unusable ({exc}); expected a JSON list like "
                                  '[{"plugin": "Reverb", "room_size": 0.5}]') from exc
    plugins = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, *assignments = item.split(":")
        params = {}
        for assignment in assignments:
            key, _, value = assignment.partition("=")
            try:
                params[key] = float(value)
            except ValueError as exc:
                raise EffectSpecError(f"parameter {assignment!r} of {name!r} is not key=number, "
                                      "e.g. reverb:room_size=0.8") from exc
        plugins.append(_make_plugin(name, params))
    return plugins
