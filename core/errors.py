"""Typed errors. Every message states the value, what was expected, and the fix.

Only the CLI turns these into an exit status; library code raises them.
"""
from __future__ import annotations


class IsovoxError(Exception):
    """Base class of every error isovox raises on purpose (the CLI prints it as one line)."""

    exit_code = 2


class AudioFileError(IsovoxError):
    """An audio file cannot be read or written (missing, empty, corrupt, unsupported, unwritable)."""


class AudioDataError(IsovoxError):
    """Audio samples are unusable as given (wrong shape, channel count, sample rate, length)."""


class BufferOverflowError(IsovoxError):
    """An internal audio buffer was given more than it holds, or asked for more than it has (a block
    larger than the stream was set up for, or a bug)."""


class ModelError(IsovoxError):
    """A model file is missing, not an isovox ONNX model, or of an unsupported format version."""


class ConfigMismatchError(IsovoxError):
    """Two configurations that must agree do not (e.g. a checkpoint's STFT and the requested one)."""


class SettingError(ConfigMismatchError):
    """One setting (an argument or option) is out of range or not one of its choices. A subclass of
    `ConfigMismatchError` only so that code written to catch that, which these errors used to be, still
    catches them."""


class DeviceError(IsovoxError):
    """An execution device or audio/MIDI device was asked for and cannot be used."""


class CheckpointError(IsovoxError):
    """A training checkpoint is missing, corrupt, or of another architecture."""


class ToolMissingError(IsovoxError):
    """An external program (fluidsynth, espeak-ng, festival, jackd) is not installed."""


class ClippingWarning(UserWarning):
    """Samples beyond full scale were clipped (or rescaled) on the way into a file; the message counts
    them (a warning, not an error: the file is written)."""


class LicenceError(IsovoxError):
    """A data source's licence is unknown or forbids its use where it was asked for (NC/ND in training)."""
