"""The isovox U-Net: the baseline recipe's 4+4-level spectrogram U-Net, made streamable.

Differences from the baseline recipe, and why:
- pooling and up-sampling act on frequency only, so the time axis is never resampled;
- every 3×K convolution is causal in time (left context carried as *state*, dilation growing with
  depth for a long receptive field at low cost), so running the model one frame at a time with the
  state carried over gives exactly the offline result — the host streams at 1× the offline cost;
- look-ahead is a fixed delay of `lookahead_frames`: output frame t is the mask of input frame t - L,
  so the receptive field reaches L frames into the future and no further;
- each audio channel is separated by the same mono model (batch = channels): any channel count works
  and stereo images are preserved by applying each channel's own mask; or (`input_channels` = 2) a
  stereo pair goes in as one item and comes out as one mask per channel, so the model can use where a
  sound sits in the stereo image, at about half the cost per stereo frame (`core.channel_groups`);
- optionally (`band_split` = k > 1) the input is folded into k channels of model_bins / k bands
  (space-to-depth along frequency) and the head unfolds k mask values per band back to full
  resolution: every level then runs on k× fewer bins, which cuts the cost per frame several-fold;
- optionally (`gru_units` = H > 0) a causal GRU runs over the bottleneck's frames (all its channels and
  bins as one vector per frame) and adds its projection back: context beyond the convolutions'
  receptive field, carried as one more state (batch, H, 1, 1). Its projection starts at zero, so a
  grown model starts out equal to the checkpoint it grew from (`grow_from`, which can also widen the
  levels of a trained model without changing what it computes).

Shapes: ``(batch, input_channels, model_bins, frames)`` in and out; states ``(batch, channels_i, bins_i, context_i)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from isovox.core.channel_groups import MODEL_CHANNELS
from isovox.core.stft import StftConfig
from torch import nn

SKIP_MODES = ("concat", "add")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters; stored in checkpoints and ONNX metadata."""

    channels: tuple[int, ...] = (8, 16, 24, 48, 64)  # per level: depth = len(channels) - 1 poolings
    time_kernel: int = 3
    dilation_growth: int = 2            # time dilation multiplies by this per level
    lookahead_frames: int = 0
    output_kind: str = "mask"           # "mask" (sigmoid soft mask) or "magnitude" (the baseline recipe: regression)
    band_split: int = 1                 # adjacent bins folded into channels before the first level
    skip_mode: str = "concat"           # "concat" (the baseline recipe) or "add": decoder input = up-sampled + skip
    mask_max: float = 1.0               # a mask ranges over (0, mask_max)
    gru_units: int = 0                  # hidden units of the bottleneck GRU (0: none)
    input_channels: int = 1             # audio channels per item: 1 (mono model) or 2 (a stereo pair)
    stft: StftConfig = field(default_factory=StftConfig)

    def __post_init__(self) -> None:
        if (self.band_split < 1 or self.skip_mode not in SKIP_MODES or not self.mask_max > 0 or self.gru_units < 0
                or self.input_channels not in MODEL_CHANNELS):
            raise ValueError(f"band_split {self.band_split}, skip_mode {self.skip_mode!r}, mask_max "
                             f"{self.mask_max}, gru_units {self.gru_units}, input_channels {self.input_channels}: "
                             f"expected band_split ≥ 1, skip_mode in {SKIP_MODES}, mask_max > 0, gru_units ≥ 0, "
                             f"input_channels in {MODEL_CHANNELS}")

    @property
    def level_bins(self) -> int:
        """Bins of the first U-Net level: model_bins / band_split."""
        return self.stft.model_bins // self.band_split

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
    """Two (causal conv → batch norm → ReLU), as in the baseline recipe."""

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


class BottleneckGru(nn.Module):
    """Causal GRU over frames of the bottleneck, added back through a zero-initialised projection.

    (batch, channels, bins, frames), state (batch, units, 1, 1) → same shape, next state."""

    def __init__(self, channels: int, bins: int, units: int):
        super().__init__()
        self.units = units
        self.gru = nn.GRU(channels * bins, units, batch_first=True)
        self.project = nn.Linear(units, channels * bins)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, channels, bins, frames = x.shape
        sequence = x.permute(0, 3, 1, 2).reshape(batch, frames, channels * bins)
        hidden, last = self.gru(sequence, state.reshape(1, batch, self.units))
        context = self.project(hidden).reshape(batch, frames, channels, bins).permute(0, 2, 3, 1)
        return x + context, last.reshape(batch, self.units, 1, 1)


class UNet(nn.Module):
    """Streamable spectrogram U-Net. `forward(log_magnitude, *states) -> (output, *next_states)`."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        bins = config.stft.model_bins
        depth = len(config.channels) - 1
        split = config.band_split
        folded = split * config.input_channels  # channels of the first level's input and of the head's output
        if bins % (split * 2 ** depth):
            raise ValueError(f"model_bins {bins} must be divisible by band_split × 2**depth = {split * 2 ** depth}")
        k, g, ch = config.time_kernel, config.dilation_growth, config.channels
        # per-bin input normalisation, set from training data statistics and saved with the weights
        self.register_buffer("input_mean", torch.zeros(1, 1, bins, 1))
        self.register_buffer("input_scale", torch.ones(1, 1, bins, 1))
        self.encoders = nn.ModuleList(
            ConvBlock(folded if i == 0 else ch[i - 1], ch[i], k, g ** i) for i in range(depth)
        )
        self.bottleneck = ConvBlock(ch[depth - 1], ch[depth], k, g ** depth)
        self.context = (BottleneckGru(ch[depth], config.level_bins // 2 ** depth, config.gru_units)
                        if config.gru_units else None)
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(ch[i + 1], ch[i], kernel_size=(2, 1), stride=(2, 1)) for i in range(depth)
        )
        widen = 2 if config.skip_mode == "concat" else 1
        self.decoders = nn.ModuleList(ConvBlock(widen * ch[i], ch[i], k, g ** i) for i in range(depth))
        self.head = nn.Conv2d(ch[0], folded, kernel_size=1)
        self.pool = nn.MaxPool2d(kernel_size=(2, 1))

    # --- state bookkeeping -------------------------------------------------------------------
    def _blocks(self) -> list[ConvBlock]:
        """Blocks in the order their states appear in the graph."""
        return [*self.encoders, self.bottleneck, *reversed(self.decoders)]

    def state_shapes(self) -> list[tuple[int, int, int]]:
        """(channels, bins, context_frames) of each state, in graph order (batch axis excluded); the
        bottleneck GRU's hidden state, if any, follows the bottleneck's as (units, 1, 1)."""
        shapes = []
        bins = self.config.level_bins
        depth = len(self.encoders)
        levels = [*range(depth), depth, *reversed(range(depth))]
        for block, level in zip(self._blocks(), levels):
            level_bins = bins // (2 ** level)
            for conv in (block.conv1, block.conv2):
                shapes.append((conv.conv.in_channels, level_bins, conv.context_frames))
            if block is self.bottleneck and self.context is not None:
                shapes.append((self.context.units, 1, 1))
        return shapes

    def initial_states(self, batch: int, device: torch.device | None = None) -> list[torch.Tensor]:
        return [torch.zeros(batch, *shape, device=device) for shape in self.state_shapes()]

    @property
    def receptive_field_frames(self) -> int:
        """Past frames that the convolutions see for one output frame (look-ahead excluded); a
        bottleneck GRU reaches further back, without bound, through its one-frame state."""
        return sum(conv.context_frames for block in self._blocks() for conv in (block.conv1, block.conv2))

    # --- forward -----------------------------------------------------------------------------
    def forward(self, log_magnitude: torch.Tensor, *states: torch.Tensor):
        """(batch, input_channels, model_bins, frames), states → (output of the same shape, *next_states)."""
        if not states:
            states = tuple(self.initial_states(log_magnitude.shape[0], log_magnitude.device))
        x = self._fold((log_magnitude - self.input_mean) * self.input_scale)
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
        if self.context is not None:
            x, hidden = self.context(x, next(state_iter))
            next_states.append(hidden)
        for i in reversed(range(len(self.decoders))):
            x = self.upsamplers[i](x)
            joined = torch.cat([x, skips[i]], dim=1) if self.config.skip_mode == "concat" else x + skips[i]
            x, new = self.decoders[i](joined, [next(state_iter), next(state_iter)])
            next_states += new
        out = self._unfold(self.head(x))
        if self.config.output_kind == "mask":
            out = torch.sigmoid(out) * self.config.mask_max if self.config.mask_max != 1.0 else torch.sigmoid(out)
        else:
            out = nn.functional.softplus(out)
        return (out, *next_states)

    def _fold(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, C, model_bins, frames) → (batch, C·band_split, level_bins, frames): bin b·k + j of
        input channel c → channel c·k + j."""
        split, channels = self.config.band_split, self.config.input_channels
        if split == 1:
            return x
        folded = x.reshape(x.shape[0], channels, self.config.level_bins, split, x.shape[-1]).transpose(2, 3)
        return folded.reshape(x.shape[0], channels * split, self.config.level_bins, x.shape[-1])

    def _unfold(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of `_fold`: (batch, C·band_split, level_bins, frames) → (batch, C, model_bins, frames)."""
        split, channels = self.config.band_split, self.config.input_channels
        if split == 1:
            return x
        bands = x.reshape(x.shape[0], channels, split, self.config.level_bins, x.shape[-1]).transpose(2, 3)
        return bands.reshape(x.shape[0], channels, self.config.stft.model_bins, x.shape[-1])

    def separate_offline(self, log_magnitude: torch.Tensor) -> torch.Tensor:
        """Whole-sequence output aligned with the input frames (look-ahead compensated).

        Appends `lookahead_frames` frames of silence features, runs with zero state, drops the lead."""
        lookahead = self.config.lookahead_frames
        if lookahead:
            pad = torch.full_like(log_magnitude[..., :1], float(torch.log(torch.tensor(1e-5))))
            log_magnitude = torch.cat([log_magnitude, pad.expand(*pad.shape[:-1], lookahead)], dim=-1)
        out = self(log_magnitude)[0]
        return out[..., lookahead:]


def grow_from(model: UNet, source: UNet) -> None:
    """Start `model` from a trained `source` so that it computes exactly what `source` does.

    `model` may be wider (every level's channels ≥ the source's, same depth) and may add a
    bottleneck GRU (kept with its zero projection). Old weights go into the leading slices; a new
    channel keeps its random producer weights while every old channel's weights from it are zero, so it
    changes nothing until training moves them (Net2Net-style widening, without the copy of units).
    Raises ValueError when the two differ in anything else."""
    widths = replace(model.config, channels=source.config.channels, gru_units=0)
    if widths != replace(source.config, gru_units=0):
        raise ValueError(f"{source.config} cannot grow into {model.config}: only channels and gru_units "
                         "may differ")
    if len(model.config.channels) != len(source.config.channels) or any(
            new < old for new, old in zip(model.config.channels, source.config.channels)):
        raise ValueError(f"channels {source.config.channels} cannot grow into {model.config.channels}: "
                         "same depth, no level narrower")
    if source.config.gru_units and (source.config.gru_units != model.config.gru_units
                                    or model.config.channels[-1] != source.config.channels[-1]):
        raise ValueError(f"gru_units {source.config.gru_units} cannot grow into {model.config.gru_units} "
                         f"with {model.config.channels[-1]} bottleneck channels")
    sources = dict(source.named_modules())
    concat_inputs = {}  # a concat decoder's input is [up-sampled, skip]: the old skip half moves up
    if model.config.skip_mode == "concat":
        for i, decoder in enumerate(model.decoders):
            old, new = source.config.channels[i], model.config.channels[i]
            concat_inputs[decoder.conv1.conv] = torch.cat([torch.arange(old), new + torch.arange(old)])
    with torch.no_grad():
        for name, module in model.named_modules():
            old = sources.get(name)
            if old is None or old is source:
                continue
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                out_axis = 1 if isinstance(module, nn.ConvTranspose2d) else 0
                weight = module.weight.movedim(out_axis, 0)  # a view: (out, in, ...)
                old_weight = old.weight.movedim(out_axis, 0)
                outputs = torch.arange(old_weight.shape[0])
                inputs = concat_inputs.get(module, torch.arange(old_weight.shape[1]))
                weight[:old_weight.shape[0]] = 0.0  # old outputs ignore the new inputs...
                weight[outputs[:, None], inputs[None, :]] = old_weight  # ...and keep their old weights
                _copy_leading(module.bias, old.bias)
            elif isinstance(module, nn.BatchNorm2d):
                for key in ("weight", "bias", "running_mean", "running_var"):
                    _copy_leading(getattr(module, key), getattr(old, key))
                module.num_batches_tracked.copy_(old.num_batches_tracked)
            elif isinstance(module, (nn.GRU, nn.Linear)):
                module.load_state_dict(old.state_dict())
    model.input_mean.copy_(source.input_mean)
    model.input_scale.copy_(source.input_scale)


def _copy_leading(target: torch.Tensor, value: torch.Tensor) -> None:
    """Write `value` into the leading corner of the (same-rank, no smaller) `target`."""
    target[tuple(slice(0, size) for size in value.shape)] = value
