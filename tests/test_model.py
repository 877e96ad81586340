"""The streamable U-Net: frame-by-frame with carried state equals offline, look-ahead, checkpoints."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from isovox.core.errors import CheckpointError
from isovox.training.checkpoint import load_checkpoint, save_checkpoint
from isovox.training.model import ModelConfig, UNet, grow_from
from random_models import make_random_model


def _model(**overrides) -> UNet:
    """`random_models.make_random_model(0, …)`: non-trivial batch-norm statistics, input normalisation and
    GRU projection, so every layer matters."""
    return make_random_model(0, **overrides)


ARCHITECTURES = {"seed-like": {}, "band-split-add": {"band_split": 4, "skip_mode": "add"},
                 "band-split-concat": {"band_split": 8, "channels": (8, 8, 16)},
                 "band-split-gru": {"band_split": 8, "skip_mode": "add", "gru_units": 6},
                 "stereo-band-split": {"band_split": 8, "skip_mode": "add", "input_channels": 2}}


@pytest.mark.parametrize("block_frames", [1, 3, 16])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_streaming_with_state_equals_offline(block_frames, architecture):
    model = _model(**ARCHITECTURES[architecture])
    x = torch.randn(2, model.config.input_channels, model.config.stft.model_bins, 48)
    with torch.no_grad():
        offline = model(x)[0]
        states = model.initial_states(2)
        pieces = []
        for start in range(0, x.shape[-1], block_frames):
            out, *states = model(x[..., start:start + block_frames], *states)
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=-1), offline, rtol=1e-5, atol=1e-6)


def test_state_shapes_and_receptive_field():
    model = _model()
    shapes = model.state_shapes()
    assert len(shapes) == 2 * (2 * 2 + 1)  # two convs per block, 2 encoders + bottleneck + 2 decoders
    states = model.initial_states(3)
    assert [tuple(s.shape[1:]) for s in states] == shapes
    _, *next_states = model(torch.zeros(3, 1, 512, 5), *states)
    assert [tuple(s.shape) for s in next_states] == [tuple(s.shape) for s in states]
    assert model.receptive_field_frames == sum(s[2] for s in shapes)


def test_bottleneck_gru_state_follows_the_bottleneck_and_carries_context_past_the_convolutions():
    plain, gru = _model(), _model(gru_units=5)
    shapes = gru.state_shapes()
    assert shapes[:6] + shapes[7:] == plain.state_shapes() and shapes[6] == (5, 1, 1)
    assert gru.receptive_field_frames == plain.receptive_field_frames
    far = gru.receptive_field_frames + 10  # an input change this far back reaches only the GRU model
    x = torch.randn(1, 1, 512, far + 1)
    changed = x.clone()
    changed[..., 0] += 3.0
    with torch.no_grad():
        assert torch.equal(plain(x)[0][..., -1], plain(changed)[0][..., -1])
        assert not torch.equal(gru(x)[0][..., -1], gru(changed)[0][..., -1])


def test_grow_from_starts_equal_to_the_source_and_refuses_other_changes():
    source = _model(band_split=4, skip_mode="add")
    grown = UNet(ModelConfig(channels=(4, 8, 8), band_split=4, skip_mode="add", gru_units=7)).eval()
    grow_from(grown, source)
    x = torch.randn(2, 1, 512, 20)
    with torch.no_grad():
        torch.testing.assert_close(grown(x)[0], source(x)[0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="only channels and gru_units may differ"):
        grow_from(UNet(ModelConfig(channels=(4, 8, 8), band_split=2, skip_mode="add")), source)
    with pytest.raises(ValueError, match="no level narrower"):
        grow_from(UNet(ModelConfig(channels=(4, 8, 4), band_split=4, skip_mode="add")), source)
    with pytest.raises(ValueError, match="gru_units 7 cannot grow into 3"):
        grow_from(UNet(ModelConfig(channels=(4, 8, 8), band_split=4, skip_mode="add", gru_units=3)), grown)


@pytest.mark.parametrize("skip_mode", ["add", "concat"])
def test_a_widened_model_computes_what_its_source_does_until_it_trains(skip_mode):
    """Every level wider (the stereo band-split layout of the shipped model): same output in eval and
    in train mode (batch statistics), and one optimiser step moves the new channels' weights."""
    settings = {"band_split": 4, "skip_mode": skip_mode, "input_channels": 2}
    source = UNet(ModelConfig(channels=(4, 6, 8), **settings))
    with torch.no_grad():  # a trained-looking source: non-trivial norm statistics
        for module in source.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    wide = UNet(ModelConfig(channels=(8, 12, 16), **settings))
    grow_from(wide, source)
    x = torch.randn(2, 2, 512, 24)
    for mode in (False, True):
        source.train(mode), wide.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(wide(x)[0], source(x)[0], rtol=1e-5, atol=1e-6)
    before = wide.decoders[0].conv1.conv.weight.detach().clone()
    optimizer = torch.optim.Adam(wide.parameters(), 1e-3)
    wide(x)[0].square().mean().backward()
    optimizer.step()
    moved = (wide.decoders[0].conv1.conv.weight.detach() - before)[:4, 4:8].abs().max()
    assert float(moved) > 0  # old outputs start to listen to the new inputs


def test_output_is_causal_and_lookahead_is_a_delay():
    model = _model(lookahead_frames=2)
    x = torch.randn(1, 1, 512, 30)
    changed = x.clone()
    changed[..., 20:] += 1.0
    with torch.no_grad():
        a, b = model(x)[0], model(changed)[0]
        # output frame t depends on input frames ≤ t only (the delay is the model's job to learn)
        torch.testing.assert_close(a[..., :20], b[..., :20])
        assert not torch.allclose(a[..., 20:], b[..., 20:])
        aligned = model.separate_offline(x)
    assert aligned.shape == x.shape
    torch.testing.assert_close(aligned[..., :-2], a[..., 2:])


def test_band_split_keeps_every_bin_its_own_mask():
    """Folding bins into channels and back is exact: with a head that copies its input channels, the
    output is the (sigmoid of the) input bin by bin."""
    model = _model(band_split=4)
    x = torch.randn(2, 1, 512, 6)
    torch.testing.assert_close(model._unfold(model._fold(x)), x, rtol=0, atol=0)
    folded = model._fold(torch.arange(512.0).view(1, 1, 512, 1))
    assert folded.shape == (1, 4, 128, 1) and folded[0, 1, 2, 0] == 2 * 4 + 1  # bin b·k + j → channel j


def test_stereo_model_folds_each_channel_and_sees_both():
    """A stereo model folds bin b·k + j of channel c into channel c·k + j and back exactly, gives one mask
    per channel, and each channel's mask depends on the other channel too (what a mono model cannot)."""
    model = _model(band_split=4, input_channels=2)
    x = torch.randn(3, 2, 512, 6)
    torch.testing.assert_close(model._unfold(model._fold(x)), x, rtol=0, atol=0)
    folded = model._fold(torch.arange(2 * 512.0).view(1, 2, 512, 1))
    assert folded.shape == (1, 8, 128, 1) and folded[0, 4 + 1, 2, 0] == 512 + 2 * 4 + 1
    with torch.no_grad():
        out = model(x)[0]
        right_changed = x.clone()
        right_changed[:, 1] += 1.0
        changed = model(right_changed)[0]
    assert out.shape == x.shape
    assert (changed[:, 0] - out[:, 0]).abs().max() > 1e-4   # the left mask sees the right channel


def test_mask_max_widens_the_mask_range():
    model = _model(mask_max=1.5)
    with torch.no_grad():
        model.head.bias.fill_(10.0)  # sigmoid ≈ 1: the output sits at the top of its range
        out = model(torch.randn(2, 1, 512, 8) * 3)[0]
    assert 1.0 < float(out.min()) and float(out.max()) <= 1.5


def test_bad_architecture_is_refused():
    with pytest.raises(ValueError, match="band_split"):
        ModelConfig(band_split=0)
    with pytest.raises(ValueError, match="divisible"):
        UNet(ModelConfig(channels=(4, 8, 8), band_split=256))
    with pytest.raises(ValueError, match="input_channels in"):
        ModelConfig(input_channels=3)


@pytest.mark.parametrize("kind", ["mask", "magnitude"])
def test_output_ranges(kind):
    with torch.no_grad():
        out = _model(output_kind=kind)(torch.randn(2, 1, 512, 8) * 3)[0]
    assert float(out.min()) >= 0.0
    if kind == "mask":
        assert float(out.max()) <= 1.0


def test_checkpoint_round_trip(tmp_path):
    model = _model(lookahead_frames=1, output_kind="magnitude")
    model.input_mean.fill_(-3.0)
    optimizer = torch.optim.Adam(model.parameters())
    path = save_checkpoint(tmp_path / "m.pt", model, epoch=4, metrics={"val_sdr": 3.5}, training_data="x: 1 h",
                           optimizer=optimizer)
    loaded, payload = load_checkpoint(path)
    assert loaded.config == model.config and payload["epoch"] == 4 and payload["metrics"]["val_sdr"] == 3.5
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    x = torch.randn(1, 1, 512, 6)
    torch.testing.assert_close(loaded(x)[0], model(x)[0])


def test_bad_checkpoints_raise_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(junk)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an isovox checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
