"""The peer for the quality benchmark: Open-Unmix (the `openunmix` package's `OpenUnmix` network and
its `Separator` with the Wiener post-filter), trained from scratch on isovox's training data with the
same time budget, then run over a corpus to write one `vocals.wav` per track for
`benchmarks/quality.py --estimates "Open-Unmix (same data)=DIR"`.

    pip install --no-deps openunmix==1.3.0
    python benchmarks/openunmix_peer.py train --data /work/data/pools-train /work/data/corpus-midi \\
        --decoded-cache /work/data/decoded-cache --out runs/openunmix --time-limit-minutes 40
    python benchmarks/openunmix_peer.py separate --model runs/openunmix/vocals.pt --data /work/data/suite \\
        --out runs/openunmix-suite

Training follows Open-Unmix's recipe (`openunmix/train.py`): n_fft 4096, hop 1024, 16 kHz bandwidth
(`max_bin`), hidden size 512, three bi-LSTM layers, 6 s stereo crops in batches of 16, MSE on the
magnitude spectrogram, Adam (lr 1e-3, weight decay 1e-5), input mean/scale from training mixtures.
The learning rate stays at 1e-3: Open-Unmix lowers it on a validation plateau, which a run of a few
hours does not reach.
Tracks come from `isovox train`'s own split (`training.train.split_tracks`: the same roots, held-out
sources refused, the same validation tracks left out) and crops and augmentation from its
`CropDataset`, so both models see the same data.

A run writes `log.csv` (loss and audio seen per 20 steps), `state.pt` (weights and optimizer, for
`--resume`) and `vocals.pt` (fp16 weights, ~18 MB, for `separate`), both every `--save-minutes` and
at the end, atomically.

`openunmix.transforms` imports torchaudio at module level but `OpenUnmix` and `Separator` (torch STFT
back end) never call it; there is no torchaudio wheel for every torch (none for 2.13), so when the
import fails an empty module stands in for it, and only for that import.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import types
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from isovox.training.benchmark.quality import find_tracks, load_clip
from isovox.training.checkpoint import save_atomically
from isovox.training.datasets import CropDataset
from isovox.training.decoded_cache import DecodedCache
from isovox.training.train import STATS_EPOCH, split_tracks
from tqdm import tqdm

SAMPLE_RATE = 44100
N_FFT, HOP = 4096, 1024
BANDWIDTH_HZ = 16000


def _import_openunmix():
    """(openunmix.model, openunmix.utils), standing in an empty torchaudio if it cannot load (see above)."""
    try:
        importlib.import_module("torchaudio")
    except (ImportError, OSError):
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        return importlib.import_module("openunmix.model"), importlib.import_module("openunmix.utils")
    except ImportError as exc:
        sys.exit(f"openunmix_peer.py: error: {exc}; run `pip install --no-deps openunmix==1.3.0`")


def _network(model_module, max_bin: int, input_mean: np.ndarray | None = None,
             input_scale: np.ndarray | None = None):
    """Open-Unmix's default vocals network for stereo 44.1 kHz: 3 bi-LSTM layers, hidden size 512."""
    return model_module.OpenUnmix(nb_bins=N_FFT // 2 + 1, nb_channels=2, hidden_size=512, nb_layers=3,
                                  input_mean=input_mean, input_scale=input_scale, max_bin=max_bin)


def _magnitude(audio: torch.Tensor) -> torch.Tensor:
    """(batch, channels, samples) → |STFT| (batch, channels, bins, frames), Open-Unmix's settings."""
    batch, channels, samples = audio.shape
    spectrum = torch.stft(audio.reshape(-1, samples), N_FFT, HOP, window=torch.hann_window(N_FFT),
                          center=False, return_complex=True)
    return spectrum.abs().reshape(batch, channels, *spectrum.shape[-2:])


def _save(net, optimizer, progress: dict, out: Path) -> None:
    """`state.pt` (fp32 weights + Adam state, for `--resume`) and `vocals.pt` (fp16 weights: ~18 MB,
    under the repository's 20 MB file limit, for `separate`)."""
    save_atomically({"state_dict": net.state_dict(), "optimizer": optimizer.state_dict(), **progress},
                     out / "state.pt")
    save_atomically({"state_dict": {k: v.half() for k, v in net.state_dict().items()}, **progress},
                     out / "vocals.pt")


def train(args: argparse.Namespace) -> None:
    model_module, utils = _import_openunmix()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    scanner, _ = split_tracks(tuple(args.data), SAMPLE_RATE)
    tracks = scanner.scan()
    cache = DecodedCache(args.decoded_cache) if args.decoded_cache else None
    crop_samples = int(args.seq_seconds * SAMPLE_RATE)
    max_bin = int(utils.bandwidth_to_max_bin(SAMPLE_RATE, N_FFT, BANDWIDTH_HZ))
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "log.csv"

    if args.resume:
        if not (args.out / "state.pt").is_file():
            sys.exit(f"openunmix_peer.py: error: --resume needs {args.out / 'state.pt'}; train without --resume first")
        state = torch.load(args.out / "state.pt", weights_only=True)
        net = _network(model_module, state["max_bin"]).train()
        net.load_state_dict(state["state_dict"])
        optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-5)
        optimizer.load_state_dict(state["optimizer"])
        progress = {k: state[k] for k in ("max_bin", "step", "epoch", "train_seconds")}
    else:
        # input statistics: mean and std of mixture magnitudes (channels averaged), as openunmix.train does
        stats = CropDataset(tracks, crop_samples, 64, seed=args.seed, epoch=STATS_EPOCH, cache=cache)
        frames = torch.cat([_magnitude((v + a)[None]).mean(1)[0] for v, a in (stats[i] for i in range(len(stats)))],
                           -1)
        mean, std = frames.mean(-1).numpy(), frames.std(-1).clamp_min(1e-4).numpy()
        net = _network(model_module, max_bin, mean, std).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-5)
        progress = {"max_bin": max_bin, "step": 0, "epoch": 0, "train_seconds": 0.0}
        log_path.write_text("epoch,steps,train_loss,train_seconds,audio_hours_seen,audio_seconds_per_second\n")

    started = time.monotonic()
    deadline = started + args.time_limit_minutes * 60
    next_save = started + args.save_minutes * 60
    audio_seconds_per_step = args.batch_size * args.seq_seconds
    bar = tqdm(desc="Open-Unmix", unit="step", initial=progress["step"], disable=args.quiet)
    while time.monotonic() < deadline:
        # one "epoch" = 20 batches of fresh crops, drawn by epoch number, so a resumed run draws new ones
        data = CropDataset(tracks, crop_samples, 20 * args.batch_size, seed=args.seed, epoch=progress["epoch"],
                           cache=cache)
        epoch_started, losses = time.monotonic(), []
        for vocals, accompaniment in torch.utils.data.DataLoader(data, batch_size=args.batch_size):
            if time.monotonic() >= deadline:
                break
            estimate = net(_magnitude(vocals + accompaniment))
            loss = torch.nn.functional.mse_loss(estimate, _magnitude(vocals))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.update()
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        epoch_seconds = time.monotonic() - epoch_started
        progress["step"] += len(losses)
        progress["train_seconds"] += epoch_seconds
        if losses:
            with log_path.open("a") as log:
                log.write(f"{progress['epoch']},{progress['step']},{np.mean(losses):.6f},"
                          f"{progress['train_seconds']:.1f},{progress['step'] * audio_seconds_per_step / 3600:.4f},"
                          f"{len(losses) * audio_seconds_per_step / epoch_seconds:.2f}\n")
        progress["epoch"] += 1
        if time.monotonic() >= next_save:
            _save(net, optimizer, progress, args.out)
            next_save = time.monotonic() + args.save_minutes * 60
    bar.close()
    _save(net, optimizer, progress, args.out)
    print(f"Open-Unmix: {progress['step']} steps, {progress['step'] * audio_seconds_per_step / 3600:.2f} h of audio seen "
          f"in {progress['train_seconds'] / 60:.1f} min → {args.out / 'vocals.pt'}")


def separate(args: argparse.Namespace) -> None:
    model_module, _ = _import_openunmix()
    torch.set_num_threads(args.threads)
    payload = torch.load(args.model, weights_only=True)
    net = _network(model_module, payload["max_bin"])
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    separator = model_module.Separator({"vocals": net.eval()}, niter=1, residual=True, n_fft=N_FFT,
                                       n_hop=HOP, nb_channels=2, sample_rate=SAMPLE_RATE).eval()
    tracks = find_tracks(args.data)[:args.max_tracks or None]
    for track in tqdm(tracks, desc="Open-Unmix separate", unit="track"):
        clip = load_clip(track, args.data, clip_seconds=0)
        with torch.no_grad():
            vocals = separator(torch.as_tensor(clip.mixture, dtype=torch.float32)[None])[0, 0].numpy()
        vocals = np.pad(vocals, ((0, 0), (0, max(0, clip.mixture.shape[1] - vocals.shape[1]))))
        out = args.out / clip.name / "vocals.wav"
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, vocals[:, :clip.mixture.shape[1]].T, clip.sample_rate, subtype="FLOAT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, type=Path)
    common.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    t = commands.add_parser("train", parents=[common],
                            help="train Open-Unmix vocals from scratch on isovox training data")
    t.add_argument("--data", required=True, type=Path, nargs="+",
                   help="training roots, as for `isovox train --data` (pools, corpora, MUSDB18-HQ)")
    t.add_argument("--decoded-cache", type=Path, default=None, help="decoded copies of FLAC files, as for isovox train")
    t.add_argument("--time-limit-minutes", type=float, required=True, help="training time of this invocation")
    t.add_argument("--save-minutes", type=float, default=30.0, help="save state.pt and vocals.pt this often")
    t.add_argument("--resume", action="store_true", help="continue from <out>/state.pt")
    t.add_argument("--quiet", action="store_true", help="no progress bar (log.csv has the figures)")
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--seq-seconds", type=float, default=6.0)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=42)
    s = commands.add_parser("separate", parents=[common],
                            help="write <out>/<track>/vocals.wav for every track of a corpus")
    s.add_argument("--data", required=True, type=Path, help="corpus or suite to separate")
    s.add_argument("--model", required=True, type=Path)
    s.add_argument("--max-tracks", type=int, default=0)
    args = parser.parse_args()
    (train if args.command == "train" else separate)(args)


if __name__ == "__main__":
    main()
