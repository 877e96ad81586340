"""Files through an effect: `read_audio`, `write_audio` and `process_file` (constant memory, latency
compensated), on isovox's one audio I/O stack (`isovox.core.audio_io`: the readers, writers, format
rules and clipping warnings `isovox separate` uses). The effects themselves are in `effects`.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from isovox.core import audio_io
from isovox.core.errors import AudioDataError

from .separator import BlockQueue

FILE_BLOCK_SAMPLES = 65536        # samples per channel read at a time by read_audio


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(channels, samples) float32 and the sample rate of a whole WAV, FLAC, OGG, MP3 or AIFF file.

    Errors are the one-line `AudioFileError`/`AudioDataError` of `isovox separate`; for long files
    `process_file` streams instead."""
    info = audio_io.read_info(path)
    return np.concatenate(list(audio_io.read_blocks(info, FILE_BLOCK_SAMPLES)), axis=1), info.sample_rate


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int,
                subtype: str | None = None) -> None:
    """Write (channels, samples) float audio atomically (temp file + os.replace), the format by the
    extension (.wav, .flac, .ogg, .mp3, .aiff), the format's default subtype (16-bit) unless `subtype`
    names another ("PCM_24", "FLOAT"). Samples beyond full scale are clipped, counted in a ClippingWarning."""
    audio = audio_io.validate_audio(audio, sample_rate)
    audio_io.check_output_path(path, [], sample_rate, audio.shape[0])
    with audio_io.AtomicAudioWriter(path, sample_rate, audio.shape[0], subtype) as writer:
        writer.write(audio)
        writer.commit()
    audio_io.warn_clipping([writer], str(path))


def process_file(effect, input_path: str | os.PathLike, output_path: str | os.PathLike,
                 chunk_samples: int = 65536) -> int:
    """Stream a file through `effect` (a Chain, VocalIsolator or pedalboard plugin) in constant memory.

    The file is resampled to the effect's rate where it has one and back, run in chunks with
    reset=False, its latency compensated (the first `latency_samples` dropped, flushed with silence),
    so the output has exactly the input's rate, channel count and length; a mono file runs through a
    multichannel effect as identical channels and is averaged back. The subtype follows the input
    where the format allows (see `audio_io.output_subtype`). Written atomically: on any error, of any type, no
    output or temp file is left, and the input is never overwritten. Returns the output's sample rate."""
    info = audio_io.read_info(input_path)
    output_path = audio_io.check_output_path(output_path, [info.path], info.sample_rate, info.channels)
    effect_channels = getattr(effect, "channels", None)
    if effect_channels is not None and info.channels not in (1, effect_channels):
        raise AudioDataError(f"{str(info.path)!r} has {info.channels} channels but the effect has "
                             f"{effect_channels}; build it with channels={info.channels}")
    if hasattr(effect, "reset"):
        effect.reset()
    subtype = audio_io.output_subtype(audio_io.format_for(output_path), info.subtype)
    with audio_io.AtomicAudioWriter(output_path, info.sample_rate, info.channels, subtype) as writer:
        for block in _through_effect(effect, audio_io.read_blocks(info, chunk_samples), info,
                                     effect_channels or info.channels, chunk_samples):
            writer.write(block)
        writer.commit()
    audio_io.warn_clipping([writer], str(info.path))
    return info.sample_rate


def _through_effect(effect, blocks: Iterable[np.ndarray], info, channels: int,
                    chunk_samples: int) -> Iterable[np.ndarray]:
    """The effect's latency-compensated output for `blocks` of a file, run `chunk_samples` at a time
    with `channels` channels: at the file's rate, with its channel count, exactly `info.samples` samples."""
    effect_rate = int(getattr(effect, "sample_rate", None) or info.sample_rate)
    to_effect = audio_io.StreamResampler(info.sample_rate, effect_rate, info.channels)
    from_effect = audio_io.StreamResampler(effect_rate, info.sample_rate, info.channels)
    latency = int(getattr(effect, "latency_samples", 0))
    pending = BlockQueue()      # the effect gets whole chunks: pedalboard resets a plugin whose
    to_skip, emitted = latency, 0   # block grows from one call to the next

    def run(count: int, last: bool = False) -> np.ndarray:
        nonlocal to_skip, emitted
        block = pending.pop(count)
        if block.shape[1]:
            wide = np.repeat(block, channels, axis=0) if channels != block.shape[0] else block
            out = np.asarray(effect.process(wide, effect_rate, reset=False), np.float32)
            block = out.mean(axis=0, keepdims=True) if out.shape[0] != info.channels else out
            skip = min(to_skip, block.shape[1])
            to_skip -= skip
            block = block[:, skip:]
        out = from_effect.process(block, last=last)[:, :info.samples - emitted]
        emitted += out.shape[1]
        return out

    for block in blocks:
        pending.push(to_effect.process(block))
        while pending.count >= chunk_samples:
            yield run(chunk_samples)
    pending.push(to_effect.process(np.zeros((info.channels, 0), np.float32), last=True))
    pending.push(np.zeros((info.channels, latency), np.float32))   # flushes the effect's latency
    if pending.count % chunk_samples == channels:  # a square last block: its layout would be ambiguous
        pending.push(np.zeros((info.channels, 1), np.float32))
    while pending.count:
        yield run(min(chunk_samples, pending.count), last=pending.count <= chunk_samples)
    if emitted < info.samples:  # a resampler's rounding can leave the last sample or so
        yield np.zeros((info.channels, info.samples - emitted), np.float32)
