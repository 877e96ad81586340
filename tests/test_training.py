"""Torch features vs core, losses, and a short real CPU training run (loss goes down, resume, logs)."""
from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from isovox.core.errors import CheckpointError, SettingError
from isovox.core.features import log_magnitude as core_log_magnitude
from isovox.core.stft import StftConfig
from isovox.core.stft import istft as core_istft
from isovox.core.stft import stft as core_stft
from isovox.training import features
from isovox.training.checkpoint import load_checkpoint
from isovox.training.datasets import Augmentation, CropDataset, TrackScanner
from isovox.training.losses import LOSSES, negative_sdr, separation_loss
from isovox.training.model import ModelConfig, UNet
from isovox.training.train import (
    TrainConfig,
    autocast_dtype_for,
    checkpoint_hours_seen,
    recipe,
    recipe_changes,
    train,
    training_step,
)
from synthetic_stems import write_musdb


@pytest.mark.parametrize("stft_config", [StftConfig(), StftConfig(n_fft=512, hop_samples=128)])
@pytest.mark.parametrize("num_samples", [1, 511, 44100])
def test_torch_features_match_core(stft_config, num_samples):
    audio = (np.random.default_rng(num_samples).standard_normal((2, num_samples)) * 0.3).astype(np.float32)
    spectrum = core_stft(audio, stft_config)
    torch_spectrum = features.stft(torch.from_numpy(audio), stft_config)
    assert torch_spectrum.shape == spectrum.shape
    np.testing.assert_allclose(torch_spectrum.numpy(), spectrum, atol=1e-5)
    np.testing.assert_allclose(features.log_magnitude(torch_spectrum, stft_config).numpy(),
                               core_log_magnitude(spectrum, stft_config), atol=1e-5)
    np.testing.assert_allclose(features.istft(torch_spectrum, stft_config, num_samples).numpy(),
                               core_istft(spectrum, stft_config, num_samples), atol=1e-5)


def test_torch_round_trip_is_exact():
    cfg = StftConfig()
    audio = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (3, 30000)).astype(np.float32))
    rebuilt = features.istft(features.stft(audio, cfg), cfg, audio.shape[-1])
    assert float((rebuilt - audio).abs().max()) < 1e-6


def test_first_frames_rebuild_the_promised_samples():
    cfg = StftConfig()
    audio = torch.randn(1, 20 * cfg.hop_samples)
    spectrum = features.stft(audio, cfg)[..., :10]
    count = features.reconstructed_samples(10, cfg)
    np.testing.assert_allclose(features.istft(spectrum, cfg, count).numpy(), audio[:, :count].numpy(),
                               atol=1e-6)


def test_losses_prefer_the_true_vocals():
    cfg = StftConfig()
    generator = torch.Generator().manual_seed(0)
    vocals, band = torch.randn(2, 8192, generator=generator), torch.randn(2, 8192, generator=generator)
    mixture, vocals_spectrum = features.stft(vocals + band, cfg), features.stft(vocals, cfg)
    bins = cfg.model_bins
    ideal = (vocals_spectrum.abs() / (vocals_spectrum.abs() + features.stft(band, cfg).abs()))[:, :bins]
    for kind in LOSSES:
        good = separation_loss(kind, ideal, mixture, vocals_spectrum, vocals, "mask", cfg)
        half = separation_loss(kind, torch.full_like(ideal, 0.5), mixture, vocals_spectrum, vocals, "mask", cfg)
        assert float(good) < float(half), kind
    magnitude = vocals_spectrum.abs()[:, :bins]
    for kind in ("l1", "l1c"):
        assert float(separation_loss(kind, magnitude, mixture, vocals_spectrum, vocals, "magnitude", cfg)) < 1e-6
    assert float(negative_sdr(vocals, vocals)) < -60  # exact estimate: bounded only by the power floor


def _config(tmp_path, **overrides) -> TrainConfig:
    values = {"data": (tmp_path / "data",), "out": tmp_path / "run", "epochs": 2, "steps_per_epoch": 12,
              "batch_size": 4, "lr": 1e-2, "loss": "l1", "model": ModelConfig(channels=(4, 8, 8)),
              "crop_frames": 32, "seed": 3, "threads": 1, "valid_clips": 1, "valid_seconds": 1.0,
              "stat_crops": 8, "bn_crops": 4, "progress": False}
    values.update(overrides)
    return TrainConfig(**values)


def _fixed_batch_loss(model, config: TrainConfig) -> float:
    tracks = TrackScanner(config.data[0], split="train").scan()
    dataset = CropDataset(tracks, config.crop_frames * 512, 8, seed=99, augmentation=Augmentation.none())
    vocals = torch.stack([dataset[i][0] for i in range(8)])
    band = torch.stack([dataset[i][1] for i in range(8)])
    with torch.no_grad():
        return float(training_step(model.eval(), vocals, band, config.loss, model.config, None))


def test_checkpoint_hours_seen_reads_its_record_else_its_epoch_in_the_log_beside_it(tmp_path):
    assert checkpoint_hours_seen(tmp_path / "last.pt", {"epoch": 3, "metrics": {"audio_hours_seen": 2.5}}) == 2.5
    assert checkpoint_hours_seen(tmp_path / "best.pt", {"epoch": 1, "metrics": {}}) == 0.0  # no log
    (tmp_path / "log.csv").write_text("epoch,audio_hours_seen\n0,0.5\n1,1.0\n2,1.5\n")
    assert checkpoint_hours_seen(tmp_path / "best.pt", {"epoch": 1, "metrics": {}}) == 1.0


def test_recipe_changes_name_the_settings_given_differently_on_resume(tmp_path):
    stored = recipe(_config(tmp_path))
    extended = _config(tmp_path, epochs=9, augmentation=Augmentation(accompaniment_eq_probability=0.5))
    assert recipe_changes(stored, recipe(extended)) == ["augmentation.accompaniment_eq_probability 0.0 → 0.5"]
    assert recipe_changes({}, recipe(extended)) == []  # a checkpoint from before recipes: nothing to compare
    older = {**stored, "augmentation": {key: value for key, value in stored["augmentation"].items()
                                        if key != "accompaniment_layer_probability"}}  # written before it existed
    layered = _config(tmp_path, augmentation=Augmentation(accompaniment_layer_probability=0.3))
    assert recipe_changes(older, recipe(layered)) == ["augmentation.accompaniment_layer_probability 0.0 → 0.3"]


@pytest.mark.slow
def test_short_cpu_training_lowers_the_loss_and_resumes(tmp_path, capsys):
    write_musdb(tmp_path / "data", 4, 3.0, "train")
    write_musdb(tmp_path / "data", 2, 3.0, "test", seed=50)
    config = _config(tmp_path)
    result = train(config)
    run = config.out
    for name in ("best.pt", "last.pt", "log.csv", "curves.png"):
        assert (run / name).is_file(), name
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[0]["oracle_irm_sdr"]) > float(rows[0]["mixture_sdr"])
    assert np.isfinite(result["best_val_sdr"])

    trained, payload = load_checkpoint(run / "last.pt")
    assert payload["epoch"] == 1 and payload["optimizer"] is not None
    assert float(trained.input_scale.std()) > 0  # normalisation set from the data, not the identity
    torch.manual_seed(config.seed)
    fresh = type(trained)(trained.config)
    fresh.load_state_dict({k: v for k, v in trained.state_dict().items() if k.startswith("input_")},
                          strict=False)
    assert _fixed_batch_loss(trained, config) < 0.8 * _fixed_batch_loss(fresh, config)

    assert payload["recipe"]["lr"] == config.lr and payload["recipe"]["augmentation"]["swap_probability"] == 0.5
    capsys.readouterr()
    resumed = train(_config(tmp_path, epochs=3, resume=True, lr=5e-3))  # a warm restart at a lower rate
    assert "with changed settings: lr 0.01 → 0.005\n" in capsys.readouterr().out  # and nothing else changed
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2] and resumed["epochs"] == 3
    assert load_checkpoint(run / "last.pt")[1]["epoch"] == 2


@pytest.mark.slow
def test_init_from_widens_and_grows_a_gru_onto_a_trained_run_and_refuses_other_settings(tmp_path):
    write_musdb(tmp_path / "data", 3, 2.0, "train")
    base = _config(tmp_path, out=tmp_path / "base", epochs=1, steps_per_epoch=2)
    train(base)
    source, _ = load_checkpoint(base.out / "last.pt")
    grown_config = ModelConfig(channels=(6, 8, 12), gru_units=4)
    train(_config(tmp_path, out=tmp_path / "grown", epochs=1, steps_per_epoch=2, model=grown_config,
                  init_from=base.out / "last.pt", precision="bf16"))
    grown, payload = load_checkpoint(tmp_path / "grown" / "last.pt")
    assert grown.config == grown_config and payload["epoch"] == 0
    base_hours = load_checkpoint(base.out / "last.pt")[1]["metrics"]["audio_hours_seen"]
    assert payload["metrics"]["audio_hours_seen"] == pytest.approx(2 * base_hours)  # the curve continues
    grown_log = list(csv.DictReader((tmp_path / "grown" / "log.csv").open()))
    assert float(grown_log[-1]["audio_hours_seen"]) == pytest.approx(2 * base_hours, abs=1e-4)
    assert payload["recipe"]["precision"] == "bf16"
    assert float(grown.context.project.weight.detach().abs().max()) > 0  # the new GRU trained
    assert float(grown.head.weight.detach()[:, 4:].abs().max()) > 0  # so did the new channels into the head
    torch.testing.assert_close(grown.input_scale, source.input_scale)  # statistics came from the source
    with pytest.raises(CheckpointError, match="only channels and gru_units may differ"):
        train(_config(tmp_path, out=tmp_path / "bad", epochs=1, model=ModelConfig(channels=(4, 8, 8), band_split=2),
                      init_from=base.out / "last.pt"))


def test_precision_picks_the_autocast_dtype_and_bf16_trains_on_the_cpu():
    cpu = torch.device("cpu")
    assert autocast_dtype_for("auto", cpu) is None and autocast_dtype_for("fp32", cpu) is None
    assert autocast_dtype_for("bf16", cpu) == torch.bfloat16
    with pytest.raises(SettingError, match="expected one of"):
        autocast_dtype_for("fp8", cpu)
    config = ModelConfig(channels=(4, 8, 8))
    model = UNet(config)
    vocals, accompaniment = torch.randn(2, 2, 16 * 512) * 0.1, torch.randn(2, 2, 16 * 512) * 0.1
    loss = training_step(model, vocals, accompaniment, "mse", config, torch.bfloat16)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())


@pytest.mark.slow
def test_a_stereo_model_trains_exports_and_separates_files(tmp_path):
    """`input_channels` 2 end to end: training (loss over both channels, precise BN, validation) lowers
    the loss, the checkpoint exports, and the host separates mono and stereo audio with it."""
    from isovox.export.onnx_export import build_metadata, export_onnx
    from isovox.host.separator import Separator

    write_musdb(tmp_path / "data", 3, 2.0, "train")
    config = _config(tmp_path, epochs=1, steps_per_epoch=12,
                     model=ModelConfig(channels=(4, 8, 8), band_split=4, skip_mode="add", input_channels=2))
    train(config)
    trained, _ = load_checkpoint(config.out / "last.pt")
    assert trained.config.input_channels == 2 and trained.head.out_channels == 2 * 4
    torch.manual_seed(config.seed)
    fresh = type(trained)(trained.config)
    fresh.load_state_dict({k: v for k, v in trained.state_dict().items() if k.startswith("input_")}, strict=False)
    assert _fixed_batch_loss(trained, config) < _fixed_batch_loss(fresh, config)
    path = export_onnx(trained, tmp_path / "stereo.onnx", build_metadata(trained))
    separator = Separator(path, device="cpu")
    stereo = np.random.default_rng(0).uniform(-0.3, 0.3, (2, 20000)).astype(np.float32)
    assert separator.separate(stereo, 44100).shape == stereo.shape
    assert separator.separate(stereo[:1], 44100).shape == (1, 20000)


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed(tmp_path):
    write_musdb(tmp_path / "data", 3, 2.0, "train")
    states = []
    for name in ("a", "b"):
        train(_config(tmp_path, out=tmp_path / name, epochs=1, steps_per_epoch=3, loss="sdr",
                      model=ModelConfig(channels=(4, 8, 8), lookahead_frames=2)))
        states.append(load_checkpoint(tmp_path / name / "last.pt")[0].state_dict())
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], rtol=0, atol=0)


def test_validation_sdr_orders_estimates_and_marks_silence():
    """The validation score prefers a cleaner estimate; a silent estimate scores −inf (it counts
    against the model in the median) and a silent reference NaN (the clip is skipped)."""
    from isovox.training.evaluate import vocal_sdr

    rng = np.random.default_rng(0)
    vocals = rng.standard_normal((2, 3 * 44100)).astype(np.float32)
    noise = rng.standard_normal(vocals.shape).astype(np.float32)
    clean, noisy = vocal_sdr(vocals, vocals + 0.1 * noise, 44100), vocal_sdr(vocals, vocals + noise, 44100)
    assert clean == pytest.approx(20.0, abs=0.5) and noisy == pytest.approx(0.0, abs=0.5)
    assert vocal_sdr(vocals, np.zeros_like(vocals), 44100) == -np.inf
    assert np.isnan(vocal_sdr(np.zeros_like(vocals), vocals, 44100))


def test_batch_norm_recalibration_uses_the_exact_statistics(tmp_path):
    """Precise BN: with every crop in one batch, each BatchNorm's running mean/variance become exactly
    that batch's statistics of its input; weights do not change and the model is left in eval mode."""
    from isovox.training.model import UNet
    from isovox.training.recalibrate import recalibrate_batch_norm

    write_musdb(tmp_path / "data", 2, 3.0, "train")
    tracks = TrackScanner(tmp_path / "data", 44100, split="train").scan()
    torch.manual_seed(0)
    model = UNet(ModelConfig(channels=(4, 8, 8)))
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    norm = model.encoders[1].norm2
    seen = []
    handle = norm.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach().clone()))
    recalibrate_batch_norm(model, tracks, crop_frames=40, crops=3, seed=0, epoch=0, batch_size=3)
    handle.remove()
    assert len(seen) == 1 and not model.training
    batch = seen[0].double()
    torch.testing.assert_close(norm.running_mean.double(), batch.mean(dim=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(norm.running_var.double(), batch.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4,
                               atol=1e-6)
    assert norm.momentum == 0.1
    for key, value in weights.items():
        torch.testing.assert_close(model.state_dict()[key], value, msg=key)


def test_recalibrate_command_reads_every_training_root_and_fails_in_one_line(tmp_path, capsys):
    """`python -m isovox.training.recalibrate CKPT --data A B -o OUT` writes the checkpoint with new
    batch-norm statistics from both roots and the same weights; a missing root is a one-line error
    with exit code 2, and no output file."""
    from isovox.training.checkpoint import save_checkpoint
    from isovox.training.recalibrate import main

    write_musdb(tmp_path / "a", 2, 3.0, "train")
    write_musdb(tmp_path / "b", 2, 3.0, "train", seed=20)  # training reads 3 of the 4: one is validation
    torch.manual_seed(0)
    source = save_checkpoint(tmp_path / "in.pt", UNet(ModelConfig(channels=(4, 8, 8))), epoch=3)
    main([str(source), "--data", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "out.pt"),
          "--crops", "4", "--crop-frames", "40"])
    before, after = load_checkpoint(source)[0].state_dict(), load_checkpoint(tmp_path / "out.pt")[0].state_dict()
    for key in before:
        if "running" in key:
            assert not torch.equal(before[key], after[key]), key
        elif "num_batches" not in key:
            torch.testing.assert_close(after[key], before[key], rtol=0, atol=0, msg=key)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(source), "--data", str(tmp_path / "missing"), "-o", str(tmp_path / "none.pt")])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.startswith("error: ") and error.count("\n") == 1
    assert "missing" in error and not (tmp_path / "none.pt").exists()
