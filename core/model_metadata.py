"""What an isovox ONNX model declares about itself (torch-free; written by export, read by the host).

Graph contract (format version 1) — the model runs frame-synchronously with carried state, so the
same graph serves offline chunks (many frames) and streaming (one frame per call), exactly:

- input  ``log_magnitude``: float32 (batch, input_channels, model_bins, frames). With
  ``input_channels`` 1, batch = audio channels, each separated independently by the same mono model;
  with 2, batch = channel pairs, each pair seen together (`core.channel_groups`).
- inputs ``state_0 … state_{S-1}``: float32 (batch, C_i, F_i, context_i); zeros at the start.
- output ``mask`` (values in [0, 1]) or ``magnitude`` (linear STFT magnitude), shaped like the input;
  output frame t belongs to input frame t - lookahead_frames. A model without ``input_channels`` in
  its metadata is a mono one.
- outputs ``next_state_0 …``: the states to feed with the next call.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .channel_groups import MODEL_CHANNELS
from .errors import ModelError
from .stft import StftConfig

FORMAT_VERSION = 1
PREFIX = "isovox."
INPUT_NAME = "log_magnitude"
STATE_INPUT_PREFIX = "state_"
STATE_OUTPUT_PREFIX = "next_state_"
OUTPUT_KINDS = ("mask", "magnitude")
# input_channels → (input_layout, channels): how the batch axis maps onto audio channels
LAYOUTS = {
    1: ("batch=channels,1,model_bins,frames", "any (each channel separated by the same mono model)"),
    2: ("batch=channel pairs,2,model_bins,frames",
        "any (channels 1+2, 3+4, … separated as stereo pairs; a lone channel is fed as a pair of copies)"),
}


@dataclass(frozen=True)
class ModelMetadata:
    """Everything the host needs to run a model file correctly."""

    stft: StftConfig
    output_kind: str = "mask"           # "mask" or "magnitude" (the baseline recipe's direct regression)
    lookahead_frames: int = 0           # output frame t is input frame t - lookahead_frames
    receptive_field_frames: int = 0     # past frames that influence one output frame
    state_count: int = 0
    model_config: dict = field(default_factory=dict)
    training_data: str = ""
    code_revision: str = ""
    format_version: int = FORMAT_VERSION
    input_channels: int = 1             # audio channels per batch item (1: mono model, 2: stereo pairs)

    def __post_init__(self) -> None:
        if self.input_channels not in MODEL_CHANNELS:
            raise ModelError(f"input_channels {self.input_channels} is not one of {MODEL_CHANNELS}; upgrade "
                             "isovox or re-export the model with `isovox export`")

    @property
    def input_layout(self) -> str:
        """The input's axes in words, e.g. 'batch=channels,1,model_bins,frames'."""
        return LAYOUTS[self.input_channels][0]

    @property
    def channels(self) -> str:
        """Which audio channel counts the model takes, and how."""
        return LAYOUTS[self.input_channels][1]

    def to_properties(self) -> dict[str, str]:
        """Flat string properties for ONNX `metadata_props`."""
        props = {
            "format_version": str(self.format_version),
            "sample_rate": str(self.stft.sample_rate),
            "n_fft": str(self.stft.n_fft),
            "hop_samples": str(self.stft.hop_samples),
            "window": self.stft.window,
            "model_bins": str(self.stft.model_bins),
            "output_kind": self.output_kind,
            "lookahead_frames": str(self.lookahead_frames),
            "receptive_field_frames": str(self.receptive_field_frames),
            "state_count": str(self.state_count),
            "input_channels": str(self.input_channels),
            "input_layout": self.input_layout,
            "channels": self.channels,
            "model_config": json.dumps(self.model_config, sort_keys=True),
            "training_data": self.training_data,
            "code_revision": self.code_revision,
        }
        return {PREFIX + key: value for key, value in props.items()}

    @classmethod
    def from_properties(cls, props: dict[str, str], source: str = "model") -> ModelMetadata:
        """Parse ONNX `metadata_props`; raise `ModelError` naming what is missing or unsupported."""
        values = {k[len(PREFIX):]: v for k, v in props.items() if k.startswith(PREFIX)}
        if "format_version" not in values:
            raise ModelError(
                f"{source} is not an isovox model (no isovox.* metadata); export one with `isovox export`"
            )
        try:
            version = int(values["format_version"])
            if version > FORMAT_VERSION:
                raise ModelError(
                    f"{source} has model format version {version}, newer than this isovox supports "
                    f"({FORMAT_VERSION}); upgrade isovox"
                )
            stft = StftConfig(
                sample_rate=int(values["sample_rate"]),
                n_fft=int(values["n_fft"]),
                hop_samples=int(values["hop_samples"]),
                window=values["window"],
            )
            output_kind = values["output_kind"]
            if output_kind not in OUTPUT_KINDS:
                raise ModelError(f"{source}: output_kind {output_kind!r} is not one of {OUTPUT_KINDS}")
            return cls(
                stft=stft,
                output_kind=output_kind,
                lookahead_frames=int(values["lookahead_frames"]),
                receptive_field_frames=int(values["receptive_field_frames"]),
                state_count=int(values["state_count"]),
                model_config=json.loads(values.get("model_config", "{}")),
                training_data=values.get("training_data", ""),
                code_revision=values.get("code_revision", ""),
                format_version=version,
                input_channels=int(values.get("input_channels", "1")),
            )
        except ModelError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"{source} has incomplete or invalid isovox metadata ({exc!r}); re-export it")

    def describe(self) -> dict:
        """A plain dict for `isovox info` and JSON output."""
        data = asdict(self)
        data["stft"] = asdict(self.stft)
        data["input_layout"], data["channels"] = self.input_layout, self.channels
        return data
