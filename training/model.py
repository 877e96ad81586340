"""The isovox U-Net: the seed's 4+4-level spectrogram U-Net, made streamable.

Differences from the seed, and why:
- pooling and up-sampling act on frequency only, so the time axis is never resampled;
- every 3×K convolution is causal in time (left context carried as *state*, dilation growing with
  depth for a long receptive field at low cost), so running the model one frame at a time with the
  state carried over gives exactly the offline result — the host streams at 1× the offline cost;
- look-ahead is a fixed delay of `lookahead_frames`: output frame t is the mask of input frame t - L,
  so the receptive field reaches L frames into the future and no further;
- each audio channel is separated by the same mono model (batch = channels): any channel count works
  and stereo images are preserved by applying each channel's own mask.

Shapes: ``(batch, 1, model_bins, frames)`` in and out; states ``(batch, channels_i, bins_i, context_i)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from isovox.core.stft import StftConfig
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; stored in checkpoints and ONNX metadata."""

    channels: tuple[int, ...] = (8, 16, 24, 48, 64)  # per level: depth = len(channels) - 1 poolings
    time_kernel: int = 3
    dilation_growth: int = 2            # time dilation multiplies by this per level
    lookahead_frames: int = 0
    output_kind: str = "mask"           # "mask" (sigmoid soft mask) or "magnitude" (seed: regression)
    stft: StftConfig = field(default_factory=StftConfig)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        values = dict(data)
        values["channels"] = tuple(values["channels"])
        values["stft"] = StftConfig.from_dict(values["stft"])
        return cls(**values)


class CausalConv(nn.Module):
    """Conv over (bins, frames): 'same' in frequency, causal in time with a carried left context."""

    def __init__(self, in_channels: int, out_channels: int, time_kernel: int, dilation: int):
        super().__init__()
        self.context_frames = (time_kernel - 1) * dilation
        self.conv = nn.Conv2d(in_channels, out_channels, (3, time_kernel), padding=(1, 0),
                              dilation=(1, dilation))

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        joined = torch.cat([state, x], dim=-1)
        next_state = joined[..., joined.shape[-1] - self.context_frames:]
        return self.conv(joined), next_state


class ConvBlock(nn.Module):
    """Two (causal conv → batch norm → ReLU), as in the seed."""

    def __init__(self, in_channels: int, out_channels: int, time_kernel: int, dilation: int):
        super().__init__()
        self.conv1 = CausalConv(in_channels, out_channels, time_kernel, dilation)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = CausalConv(out_channels, out_channels, time_kernel, dilation)
        self.norm2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, states: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, s1 = self.conv1(x, states[0])
        x = torch.relu(self.norm1(x))
        x, s2 = self.conv2(x, states[1])
        return torch.relu(self.norm2(x)), [s1, s2]


class UNet(nn.Module):
    """Streamable spectrogram U-Net. `forward(log_magnitude, *states) -> (output, *next_states)`."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        bins = config.stft.model_bins
        depth = len(config.channels) - 1
        if bins % (2 ** depth):
            raise ValueError(f"model_bins {bins} must be divisible by 2**depth = {2 ** depth}")
        k, g, ch = config.time_kernel, config.dilation_growth, config.channels
        # per-bin input normalisation, set from training data statistics and saved with the weights
        self.register_buffer("input_mean", torch.zeros(1, 1, bins, 1))
        self.register_buffer("input_scale", torch.ones(1, 1, bins, 1))
        self.encoders = nn.ModuleList(
            ConvBlock(1 if i == 0 else ch[i - 1], ch[i], k, g ** i) for i in range(depth)
        )
        self.bottleneck = ConvBlock(ch[depth - 1], ch[depth], k, g ** depth)
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(ch[i + 1], ch[i], kernel_size=(2, 1), stride=(2, 1)) for i in range(depth)
        )
        self.decoders = nn.ModuleList(ConvBlock(2 * ch[i], ch[i], k, g ** i) for i in range(depth))
        self.head = nn.Conv2d(ch[0], 1, kernel_size=1)
        self.pool = nn.MaxPool2d(kernel_size=(2, 1))

    # --- state bookkeeping -------------------------------------------------------------------
    def _blocks(self) -> list[ConvBlock]:
        """Blocks in the order their states appear in the graph."""
        return [*self.encoders, self.bottleneck, *reversed(self.decoders)]

    def state_shapes(self) -> list[tuple[int, int, int]]:
        """(channels, bins, context_frames) of each state, in graph order (batch axis excluded)."""
        shapes = []
        bins = self.config.stft.model_bins
        depth = len(self.encoders)
        levels = [*range(depth), depth, *reversed(range(depth))]
        for block, level in zip(self._blocks(), levels):
            level_bins = bins // (2 ** level)
            for conv in (block.conv1, block.conv2):
                shapes.append((conv.conv.in_channels, level_bins, conv.context_frames))
        return shapes

    def initial_states(self, batch: int, device: torch.device | None = None) -> list[torch.Tensor]:
        return [torch.zeros(batch, *shape, device=device) for shape in self.state_shapes()]

    @property
    def receptive_field_frames(self) -> int:
        """Past frames that influence one output frame (look-ahead excluded)."""
        return sum(shape[2] for shape in self.state_shapes())

    # --- forward -----------------------------------------------------------------------------
    def forward(self, log_magnitude: torch.Tensor, *states: torch.Tensor):
        """(batch, 1, model_bins, frames), states → (output of the same shape, *next_states)."""
        if not states:
            states = tuple(self.initial_states(log_magnitude.shape[0], log_magnitude.device))
        x = (log_magnitude - self.input_mean) * self.input_scale
        state_iter = iter(states)
        next_states: list[torch.Tensor] = []
        skips = []
        for encoder in self.encoders:
            x, new = encoder(x, [next(state_iter), next(state_iter)])
            next_states += new
            skips.append(x)
            x = self.pool(x)
        x, new = self.bottleneck(x, [next(state_iter), next(state_iter)])
        next_states += new
        for i in reversed(range(len(self.decoders))):
            x = self.upsamplers[i](x)
            x, new = self.decoders[i](torch.cat([x, skips[i]], dim=1), [next(state_iter), next(state_iter)])
            next_states += new
        out = self.head(x)
        out = torch.sigmoid(out) if self.config.output_kind == "mask" else nn.functional.softplus(out)
        return (out, *next_states)

    def separate_offline(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """Whole-sequence output aligned with the input frames (look-ahead compensated).

        Appends `lookahead_frames` frames of silence features, runs with zero state, drops the lead."""
        lookahead = self.config.lookahead_frames
        if lookahead:
            pad = torch.full_like(log_magnitude[..., :1], float(torch.log(torch.tensor(1e-5))))
            log_magnitude = torch.cat([log_magnitude, pad.expand(*pad.shape[:-1], lookahead)], dim=-1)
        out = self(log_magnitude)[0]
        return out[..., lookahead:]
