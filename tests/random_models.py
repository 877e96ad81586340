"""Small randomly initialised U-Nets for tests (weights random, not trained; needs torch)."""
from __future__ import annotations

import torch
from isovox.training.model import ModelConfig, UNet

TEST_CODE_REVISION = "abc1234"   # what every test model's metadata records as its code revision


def make_random_model(seed: int, **config_overrides) -> UNet:
    """A (4, 8, 8)-channel U-Net in eval mode with non-trivial normalisation statistics (and a non-zero
    bottleneck GRU projection, if any), so that its outputs vary with the input."""
    torch.manual_seed(seed)
    model = UNet(ModelConfig(**{"channels": (4, 8, 8), **config_overrides}))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
        if model.context is not None:
            torch.nn.init.normal_(model.context.project.weight, std=0.3)
        model.input_mean.fill_(-4.0)
        model.input_scale.fill_(0.3)
    return model.eval()
