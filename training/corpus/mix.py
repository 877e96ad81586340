"""Per-stem effects, levels and the final 16-bit mix whose mixture is the exact sum of its stems."""
from __future__ import annotations

import numpy as np
import pedalboard as pb
import soxr

from .levels import db_to_gain, rms

STEMS = ("vocals", "drums", "bass", "other")
INT16_MAX = 32767


def _eq(rng: np.random.Generator) -> list:
    return [pb.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(80, 300)),
                              gain_db=float(rng.uniform(-6, 6))),
            pb.PeakFilter(cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(300), np.log(5000)))),
                          gain_db=float(rng.uniform(-6, 6)), q=float(rng.uniform(0.5, 2.0))),
            pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(3000, 10000)),
                               gain_db=float(rng.uniform(-8, 5)))]


def _reverb(rng: np.random.Generator, max_wet: float) -> pb.Reverb:
    wet = float(rng.uniform(0.03, max_wet))
    return pb.Reverb(room_size=float(rng.uniform(0.1, 0.9)), damping=float(rng.uniform(0.2, 0.8)),
                     wet_level=wet, dry_level=float(1.0 - 0.5 * wet), width=float(rng.uniform(0.5, 1.0)))


def mastering_eq(rng: np.random.Generator, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A random low shelf, peak and high shelf on a whole (2, samples) mix: another master's tone."""
    return pb.Pedalboard(_eq(rng))(audio, sample_rate)


def varispeed(audio: np.ndarray, speed_ratio: float, sample_rate: int, num_samples: int) -> np.ndarray:
    """(2, samples) audio played `speed_ratio` times as fast, like tape (pitch and tempo together):
    the first `num_samples` of the result, zero-padded. Give it `varispeed_input_samples` input
    samples so the result is whole; 2 ** (s / 12) shifts by s semitones."""
    played = soxr.resample(np.ascontiguousarray(audio.T, dtype=np.float32), sample_rate * speed_ratio,
                           sample_rate, quality="HQ").T
    out = np.zeros((audio.shape[0], num_samples), dtype=np.float32)
    out[:, : min(num_samples, played.shape[1])] = played[:, :num_samples]
    return out


def varispeed_input_samples(num_samples: int, speed_ratio: float) -> int:
    """Input samples `varispeed` needs for `num_samples` of output at `speed_ratio` (with filter margin)."""
    return int(np.ceil(num_samples * speed_ratio)) + 64


def instrument_effects(rng: np.random.Generator, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Random EQ, sometimes compression and reverb, on one (2, samples) instrument stem."""
    chain = _eq(rng)
    if rng.random() < 0.3:
        chain.append(pb.Compressor(threshold_db=float(rng.uniform(-30, -10)), ratio=float(rng.uniform(2, 6))))
    if rng.random() < 0.3:
        chain.append(_reverb(rng, 0.3))
    return pb.Pedalboard(chain)(audio, sample_rate)


def place_phrases(phrases: list[tuple[float, float, np.ndarray]], num_samples: int,
                  sample_rate: int) -> np.ndarray:
    """Sum mono phrases (start_s, gain_db, audio (samples,)) into one (samples,) line, cut at the end."""
    line = np.zeros(num_samples, dtype=np.float32)
    fade = int(0.02 * sample_rate)
    for start_s, gain_db, audio in phrases:
        a = round(start_s * sample_rate)
        take = min(audio.size, num_samples - a)
        if take <= 0:
            continue
        seg = audio[:take] / (np.max(np.abs(audio)) + 1e-9) * db_to_gain(gain_db)
        if take < audio.size and take > fade:  # cut at the track end: fade, no click
            seg[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        line[a:a + take] += seg
    return line


def vocal_effects(rng: np.random.Generator, mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """High-pass, EQ, compression, reverb/delay and a pan around the centre: (samples,) -> (2, samples)."""
    chain = [pb.HighpassFilter(cutoff_frequency_hz=float(rng.uniform(60, 160))), *_eq(rng)]
    if rng.random() < 0.7:
        chain.append(pb.Compressor(threshold_db=float(rng.uniform(-28, -12)), ratio=float(rng.uniform(2, 5)),
                                   attack_ms=float(rng.uniform(2, 15)),
                                   release_ms=float(rng.uniform(60, 250))))
    if rng.random() < 0.15:
        chain.append(pb.Chorus(rate_hz=float(rng.uniform(0.3, 2)), depth=float(rng.uniform(0.1, 0.4)),
                               mix=0.3))
    angle = np.pi / 4 + float(rng.normal(0, 0.15))
    stereo = np.stack([mono * np.cos(angle), mono * np.sin(angle)]).astype(np.float32) * np.sqrt(2.0)
    post = []
    if rng.random() < 0.25:
        post.append(pb.Delay(delay_seconds=float(rng.uniform(0.1, 0.45)),
                             feedback=float(rng.uniform(0.1, 0.4)),
                             mix=float(rng.uniform(0.05, 0.25))))
    if rng.random() < 0.75:
        post.append(_reverb(rng, 0.35))
    stereo = pb.Pedalboard(chain)(stereo, sample_rate)
    return pb.Pedalboard(post)(stereo, sample_rate) if post else stereo


def _active(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Boolean per-sample mask where the (2, samples) stem is within 30 dB of its loudest 50 ms."""
    hop = int(0.05 * sample_rate)
    n = x.shape[1] // hop
    env = np.sqrt(np.mean(np.square(x[:, : n * hop]).reshape(2, n, hop), axis=(0, 2)))
    on = env > env.max() * db_to_gain(-30) if n and env.max() > 0 else np.zeros(n, bool)
    mask = np.zeros(x.shape[1], bool)
    mask[: n * hop] = np.repeat(on, hop)
    return mask


def mix_track(rng: np.random.Generator, stems: dict[str, np.ndarray],
              sample_rate: int) -> tuple[dict[str, np.ndarray], dict]:
    """Level the (2, samples) float stems and quantise them to int16 so their sum never clips.

    Accompaniment stems get random relative levels; the vocals are set to a random vocal-to-accompaniment
    ratio (-8..+4 dB) measured where the voice sounds; the track peak is drawn from -8..-0.3 dBFS.
    Returns int16 stems (2, samples) including `mixture` (their exact sum) and the levels used.
    """
    levels = {"drums": rng.uniform(-9, 0), "bass": rng.uniform(-9, 0), "other": rng.uniform(-6, 2)}
    out = {}
    for name, db in levels.items():
        r = rms(stems[name])
        out[name] = stems[name] * (db_to_gain(-20 + db) / r if r > 1e-6 else 0.0)
    accomp = out["drums"] + out["bass"] + out["other"]
    vocals = stems["vocals"]
    ratio_db = float(rng.uniform(-8, 4))
    mask = _active(vocals, sample_rate)
    v_rms = rms(vocals[:, mask])
    a_rms = rms(accomp[:, mask]) if mask.any() else 0.0
    if v_rms > 1e-6:
        out["vocals"] = vocals * (max(a_rms, db_to_gain(-30)) * db_to_gain(ratio_db) / v_rms)
    else:
        out["vocals"] = np.zeros_like(vocals)
    total = sum(out[s] for s in STEMS)
    peak_db = float(rng.uniform(-8, -0.3))
    scale = db_to_gain(peak_db) * INT16_MAX / max(float(np.max(np.abs(total))), 1e-9)
    ints = {s: np.round(out[s] * scale).astype(np.int32) for s in STEMS}
    mixture = sum(ints[s] for s in STEMS)
    over = int(np.max(np.abs(mixture)))
    if over > INT16_MAX:  # rounding can add a few LSB: scale down once more
        ints = {s: (ints[s] * INT16_MAX) // (over + 4) for s in STEMS}
        mixture = sum(ints[s] for s in STEMS)
    result = {s: ints[s].astype(np.int16) for s in STEMS}
    result["mixture"] = mixture.astype(np.int16)
    info = {"vocal_to_accompaniment_db": round(ratio_db, 2), "peak_dbfs": round(peak_db, 2),
                "stem_levels_db": {k: round(float(v), 2) for k, v in levels.items()},
                "vocal_active_fraction": round(float(mask.mean()), 3)}
    return result, info
