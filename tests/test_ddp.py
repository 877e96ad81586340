"""Multi-process training through `torchrun` (DistributedDataParallel on gloo, 2 CPU processes)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from isovox.training.checkpoint import load_checkpoint
from synthetic_stems import write_musdb


@pytest.mark.slow
def test_torchrun_two_processes_on_gloo(tmp_path):
    write_musdb(tmp_path / "data", 3, 2.0, "train")
    write_musdb(tmp_path / "data", 1, 2.0, "test", seed=40)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "isovox", "train", "--data", str(tmp_path / "data"), "--out", str(out),
               "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "2", "--channels", "4,8,8",
               "--crop-frames", "32", "--valid-clips", "1", "--valid-seconds", "1", "--bn-crops", "2", "--threads", "1",
               "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best vocal SDR") == 1  # only rank 0 reports
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    model, payload = load_checkpoint(out / "last.pt")
    assert payload["epoch"] == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())
