"""A short real clip to check exported models on: espeak-ng speech over a synthetic music bed.

The voice is rendered by espeak-ng when it is installed (real speech: formants, plosives, pauses);
without it a harmonic voice with vibrato stands in, and `ReferenceClip.description` says so.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SENTENCE = "Isolate the voice from the music, and keep every word of the song clear."


@dataclass(frozen=True)
class ReferenceClip:
    """Stems of a stereo clip; arrays are float32 (2, samples) at `sample_rate`."""

    vocals: np.ndarray
    accompaniment: np.ndarray
    sample_rate: int
    description: str

    @property
    def mixture(self) -> np.ndarray:
        """(2, samples) float32 vocals + accompaniment."""
        return self.vocals + self.accompaniment


def _espeak_voice(sample_rate: int, num_samples: int) -> np.ndarray | None:
    """(num_samples,) float32 speech from espeak-ng resampled to `sample_rate`, or None without it."""
    if shutil.which("espeak-ng") is None:
        return None
    import soundfile
    import soxr

    with tempfile.TemporaryDirectory(prefix="isovox-clip-") as workdir:
        wav = Path(workdir) / "voice.wav"
        try:
            subprocess.run(["espeak-ng", "-v", "en-us", "-p", "50", "-s", "150", "-w", str(wav), SENTENCE],
                           check=True, capture_output=True, timeout=30)
            speech, rate = soundfile.read(wav, dtype="float32", always_2d=True)
        except (OSError, subprocess.SubprocessError, RuntimeError):
            return None
    speech = soxr.resample(speech[:, 0], rate, sample_rate)
    out = np.zeros(num_samples, dtype=np.float32)
    out[: min(num_samples, len(speech))] = speech[:num_samples]
    return out / max(float(np.abs(out).max()), 1e-6)


def _harmonic_voice(t: np.ndarray, sample_rate: int) -> np.ndarray:
    """A sung-vowel stand-in: 7 harmonics of a 220 Hz tone with 5 Hz vibrato, gated into phrases."""
    f0 = 220 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) * (np.sin(2 * np.pi * 0.7 * t) > -0.3)
    return (voice / np.abs(voice).max()).astype(np.float32)


def reference_clip(sample_rate: int = 44100, seconds: float = 3.0) -> ReferenceClip:
    """Deterministic stereo clip: voice panned left of centre over chords, a bass line and clicks."""
    num_samples = int(seconds * sample_rate)
    t = np.arange(num_samples) / sample_rate
    voice = _espeak_voice(sample_rate, num_samples)
    description = "espeak-ng speech over synthetic chords, bass and clicks"
    if voice is None:
        voice = _harmonic_voice(t, sample_rate)
        description = "harmonic voice (espeak-ng not found) over synthetic chords, bass and clicks"
    rng = np.random.default_rng(0)
    chords = sum(np.sin(2 * np.pi * f * t) for f in (130.8, 164.8, 196.0, 261.6)) / 4
    bass = np.sin(2 * np.pi * 65.4 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    clicks = np.zeros(num_samples)
    clicks[:: sample_rate // 4] = 1.0
    clicks = np.convolve(clicks, rng.standard_normal(200) * np.exp(-np.arange(200) / 30), mode="same")
    bed = 0.4 * chords + 0.3 * bass + 0.2 * clicks
    vocals = 0.3 * np.stack([0.9 * voice, 0.7 * voice])
    accompaniment = 0.3 * np.stack([0.8 * bed, bed])
    return ReferenceClip(vocals.astype(np.float32), accompaniment.astype(np.float32), sample_rate, description)
