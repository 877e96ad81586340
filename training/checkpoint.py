"""Training checkpoints: plain dicts of tensors and primitives, loadable with `weights_only=True`.

Layout: {"format": "isovox-checkpoint", "version": 1, "model_config": ModelConfig.to_dict(),
"state_dict": …, "epoch": int, "metrics": {name: float}, "training_data": str, "code_revision": str,
"optimizer": state_dict | None, "recipe": {setting: primitive}}. Never executes pickled code from a downloaded file.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import torch
from isovox.core.atomic_files import atomic_path
from isovox.core.errors import CheckpointError
from isovox.training.model import ModelConfig, UNet

CHECKPOINT_FORMAT = "isovox-checkpoint"
CHECKPOINT_VERSION = 1


def code_revision() -> str:
    """The git revision of this checkout, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def save_checkpoint(path: str | Path, model: UNet, *, epoch: int = 0, metrics: dict | None = None,
                    training_data: str = "", optimizer: torch.optim.Optimizer | None = None,
                    recipe: dict | None = None) -> Path:
    """Write atomically (temp file + rename). `recipe`: the training settings besides the model's."""
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "epoch": int(epoch),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "training_data": training_data,
        "code_revision": code_revision(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "recipe": recipe or {},
    }
    save_atomically(payload, path)
    return path


def save_atomically(payload: dict, path: Path) -> None:
    """torch.save to a temp file beside `path`, then rename: a run stopped mid-write keeps the old file."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path) -> tuple[UNet, dict]:
    """Return (model in eval mode, the raw checkpoint dict). Raises `CheckpointError` with the fix."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise CheckpointError(f"{path} is not a readable checkpoint ({str(exc).splitlines()[0][:160]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an isovox checkpoint (no 'format: {CHECKPOINT_FORMAT}'); "
                              "train one with `isovox train`")
    if payload.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload['version']}, newer than "
                              f"{CHECKPOINT_VERSION}; upgrade isovox")
    try:
        model = UNet(ModelConfig.from_dict(payload["model_config"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not match the isovox U-Net architecture ({' '.join(str(exc).split())[:200]})") from None
    return model.eval(), payload
