"""Random arrangements: notes for drums, bass, accompaniment, and a sparse vocal line with its text.

Everything is drawn from one `numpy.random.Generator`, so a track is a pure function of its seed.
Times are in seconds from the start of the track; pitches are MIDI note numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11), "lydian": (0, 2, 4, 6, 7, 9, 11),
}
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (5, 3, 0, 4), (0, 6, 5, 4), (0, 3, 0, 4),
                (1, 4, 0, 0), (0, 2, 3, 4), (3, 4, 2, 5), (0, 0, 3, 4), (0, 5, 1, 4), (5, 4, 3, 4))
VOICE_PROGRAMS = (52, 53, 54)  # 0-based GM: Choir Aahs, Voice Oohs, Synth Voice -> the vocals stem
CHORD_PROGRAMS = (*range(8), 8, 11, 12, *range(16, 24), *range(24, 32), *range(40, 52),
                        *range(56, 64), *range(88, 96), 104, 105, 106, 107, 46, 81, 82)
BASS_PROGRAMS = tuple([*range(32, 40)] * 4 + [42, 43, 58, 87, 0, 70])
LEAD_PROGRAMS = (*range(24, 32), 40, 41, 42, 56, 57, 59, 60, 64, 65, 66, 67, 68, 69, 71, 72, 73,
                       74, 75, 77, 78, 79, *range(80, 88), 104, 105, 109, 110, 111, 11, 12, 13, 0, 4, 16, 22)
DRUM_KITS = (0, 0, 0, 8, 16, 24, 25, 32, 40, 48)
ESPEAK_LANGUAGES = ("en-us", "en-us", "en-gb", "de", "fr-fr", "es", "it", "pt", "nl", "sv", "pl", "fi",
                    "cs", "ro", "id", "sw", "tr", "hu", "af", "da")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "croak", "klatt", "klatt2", "klatt3",
                 "Andy", "boris", "david", "john", "max", "paul", "robert", "steph", "gustave")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Annie", "linda", "belinda", "grandma", "anika",
                   "Alicia", "aunty", "shelby", "steph2")
ENGLISH_WORDS = ("love", "heart", "night", "day", "go", "home", "light", "fire", "way", "time", "dream",
                 "rain", "sun", "sky", "run", "free", "soul", "fall", "high", "you", "me", "we", "now",
                 "here", "there", "burn", "hold", "true", "blue", "gold", "road", "sea", "long", "stay",
                 "sing", "cry", "fly", "down", "lost", "world", "feel", "mind", "eyes", "baby", "tonight",
                 "forever", "never", "again", "away", "alone", "together", "morning", "river", "city",
                 "falling", "waiting", "calling", "the", "and", "my", "your", "in", "on", "all", "oh")
WORDS: dict[str, tuple[str, ...]] = {
    "de": ("ich", "du", "liebe", "nacht", "herz", "immer", "wieder", "licht", "regen", "sonne", "weg",
           "zeit", "traum", "himmel", "heute", "morgen", "allein", "zusammen", "und", "die", "mein"),
    "fr": ("je", "tu", "amour", "nuit", "coeur", "toujours", "encore", "lumiere", "pluie", "soleil",
           "chemin", "temps", "reve", "ciel", "demain", "seul", "ensemble", "et", "la", "mon", "danse"),
    "es": ("yo", "tu", "amor", "noche", "corazon", "siempre", "otra", "vez", "luz", "lluvia", "sol",
           "camino", "tiempo", "sueno", "cielo", "manana", "solo", "juntos", "y", "la", "mi", "bailar"),
    "it": ("io", "tu", "amore", "notte", "cuore", "sempre", "ancora", "luce", "pioggia", "sole", "strada",
           "tempo", "sogno", "cielo", "domani", "solo", "insieme", "e", "la", "mio", "cantare"),
    "pt": ("eu", "voce", "amor", "noite", "coracao", "sempre", "outra", "vez", "luz", "chuva", "sol",
           "caminho", "tempo", "sonho", "ceu", "amanha", "sozinho", "juntos", "e", "minha", "saudade"),
}
SYLLABLE_ONSETS = ("l", "n", "m", "d", "t", "s", "k", "b", "r", "h", "v", "j", "p", "g", "w", "sh", "")
SYLLABLE_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "ai", "ee", "oo")
SYLLABLE_CODAS = ("", "", "", "n", "m", "l", "r", "s")


@dataclass
class Note:
    """One note: onset and length in seconds, MIDI pitch, MIDI velocity (1..127)."""

    start_s: float
    dur_s: float
    pitch: int
    velocity: int


@dataclass
class Part:
    """One MIDI instrument line with its channel settings (GM program is 0-based)."""

    name: str
    program: int
    is_drum: bool
    notes: list[Note]
    volume: int = 100
    pan: int = 64
    reverb: int = 40
    chorus: int = 0


@dataclass
class VocalPhrase:
    """One vocal phrase: `source` is espeak-sing/espeak-speak/festival-sing/festival-speak.

    Sung phrases carry one `words` entry per note; spoken phrases carry only `words` (a sentence).
    `voice` is the espeak voice (e.g. "de+f3") or "kal"; `pitch_shift_semitones` moves the rendered voice.
    Transpositions keep the formants (rubberband) when `preserve_formants`, else they resample (tape-like).
    """

    source: str
    start_s: float
    end_s: float
    words: list[str]
    notes: list[Note] = field(default_factory=list)
    voice: str = "kal"
    speed_wpm: int = 160
    pitch: int = 50
    pitch_shift_semitones: float = 0.0
    gain_db: float = 0.0
    preserve_formants: bool = False


@dataclass
class Arrangement:
    """A whole track: stems of MIDI parts (`drums`, `bass`, `other`, `vocals` for GM voice patches)
    plus synthetic-voice phrases for the vocals stem."""

    duration_s: float
    tempo_bpm: float
    beats_per_bar: int
    key_root: int
    mode: str
    parts: dict[str, list[Part]]
    phrases: list[VocalPhrase]
    vocal_register: str
    description: dict


def _pitch(root: int, scale: tuple[int, ...], degree: int, base_octave_pitch: int) -> int:
    """MIDI pitch of a scale degree (may exceed 0..6) counted from `base_octave_pitch` + root."""
    return base_octave_pitch + root + scale[degree % 7] + 12 * (degree // 7)


def _fit(pitch: int, low: int, high: int) -> int:
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


class _Grid:
    """Bar/beat arithmetic for one track (seconds), with optional swing on off-beat eighths."""

    def __init__(self, tempo_bpm: float, beats_per_bar: int, swing: float):
        self.beat_s = 60.0 / tempo_bpm
        self.beats_per_bar = beats_per_bar
        self.bar_s = self.beat_s * beats_per_bar
        self.swing = swing

    def time(self, bar: int, beat: float) -> float:
        frac = beat % 1.0
        if abs(frac - 0.5) < 1e-6:  # swing the off-beat eighth
            beat += self.swing * 0.5
        return bar * self.bar_s + beat * self.beat_s


def _chords(rng: np.random.Generator, n_bars: int, beats_per_bar: int) -> list[tuple[float, float, int]]:
    """(start_beat_abs, length_beats, degree) for the whole track."""
    prog = PROGRESSIONS[rng.integers(len(PROGRESSIONS))]
    if rng.random() < 0.3:
        prog = tuple(int(d) for d in [0, *rng.integers(0, 7, 3)])
    bars_per_chord = rng.choice([1, 1, 2, 0.5]) if beats_per_bar == 4 else 1
    chord_beats = bars_per_chord * beats_per_bar
    out, t, i = [], 0.0, 0
    while t < n_bars * beats_per_bar:
        out.append((t, chord_beats, prog[i % len(prog)]))
        t += chord_beats
        i += 1
    return out


def _chord_at(chords: list[tuple[float, float, int]], beat_abs: float) -> int:
    for start, length, degree in chords:
        if start <= beat_abs < start + length:
            return degree
    return chords[-1][2]


def _drums(rng: np.random.Generator, grid: _Grid, n_bars: int, humanize_s: float) -> list[Note]:
    """A GM drum pattern of one random style on a 16th grid, with crashes, fills and dropped hits."""
    style = rng.choice(["rock", "four", "halftime", "funk", "jazz", "sparse", "latin", "rock"])
    steps = grid.beats_per_bar * 4
    step_beats = 0.25
    kick, snare, hat, ohat, ride = 36, int(rng.choice([38, 40, 39])), int(rng.choice([42, 42, 44])), 46, 51
    pat: dict[int, list[int]] = {}
    if style == "rock":
        pat = {kick: [0, 8] + ([10] if rng.random() < .5 else []), snare: [4, 12],
               hat: list(range(0, steps, 2))}
    elif style == "four":
        pat = {kick: list(range(0, steps, 4)), snare: [4, 12], ohat: [2, 6, 10, 14],
               hat: list(range(0, steps, 2))}
    elif style == "halftime":
        pat = {kick: [0, 10], snare: [8], hat: list(range(0, steps, 2))}
    elif style == "funk":
        pat = {kick: [0, 3, 10], snare: [4, 12, 7, 15], hat: list(range(steps))}
    elif style == "jazz":
        pat = {ride: [0, 4, 6, 8, 12, 14], kick: [0] if rng.random() < .5 else [], 44: [4, 12], snare: [11]}
    elif style == "sparse":
        pat = {int(rng.choice([70, 54, 69, 82])): list(range(0, steps, int(rng.choice([1, 2])))),
               int(rng.choice([62, 63, 64, 60, 61])): [0, 6, 10]}
    else:  # latin
        pat = {kick: [0, 6, 8, 14], 75: [0, 6, 10, 12], 63: [4, 7, 12, 15], 54: list(range(0, steps, 2))}
    pat = {p: [s for s in ss if s < steps] for p, ss in pat.items()}
    notes: list[Note] = []
    fill_every = int(rng.choice([4, 8, 0]))
    for bar in range(n_bars):
        fill = fill_every and bar % fill_every == fill_every - 1 and rng.random() < 0.7
        if bar % 4 == 0 and rng.random() < 0.6:
            notes.append(Note(grid.time(bar, 0), 1.5, 49, int(rng.integers(80, 120))))
        for pitch, ss in pat.items():
            for s in ss:
                if fill and s >= steps // 2:
                    continue
                if rng.random() < 0.06:  # dropped hit
                    continue
                vel = int(np.clip(rng.normal(95 if s % 4 == 0 else 75, 12), 20, 127))
                t = grid.time(bar, s * step_beats) + rng.normal(0, humanize_s)
                notes.append(Note(max(t, 0.0), 0.2, pitch, vel))
        if fill:
            toms = [50, 48, 47, 45, 43, 41]
            for k, s in enumerate(range(steps // 2, steps, int(rng.choice([1, 2])))):
                notes.append(Note(grid.time(bar, s * step_beats), 0.2, toms[min(k // 2, 5)],
                                  int(rng.integers(70, 120))))
    return notes


def _bass(rng: np.random.Generator, grid: _Grid, chords: list[tuple[float, float, int]], root: int,
          scale: tuple[int, ...], n_bars: int) -> list[Note]:
    """A bass line (E1..E3) following the chord roots in one of six rhythmic styles."""
    style = rng.choice(["whole", "quarters", "eighths", "root5", "walking", "synco"])
    bpb = grid.beats_per_bar
    notes: list[Note] = []
    for bar in range(n_bars):
        if style == "whole":
            onsets = [(0.0, bpb)]
        elif style == "quarters":
            onsets = [(b, 0.9) for b in range(bpb)]
        elif style == "eighths":
            onsets = [(b / 2, 0.45) for b in range(bpb * 2)]
        elif style == "root5":
            onsets = [(0.0, 1.4), (1.5, 0.5), (2.0, 1.0), (3.0, 1.0)][: bpb]
        elif style == "walking":
            onsets = [(b, 0.95) for b in range(bpb)]
        else:
            onsets = [(0.0, 0.7), (0.75, 0.5), (1.5, 0.9), (2.5, 0.5), (3.0, 0.7)]
            onsets = [o for o in onsets if o[0] < bpb]
        for k, (beat, length) in enumerate(onsets):
            degree = _chord_at(chords, bar * bpb + beat)
            offset = 0
            if style == "root5" and k in (1, 3):
                offset = 4
            elif style == "walking":
                offset = int(rng.choice([0, 2, 4, 5, -1])) if k else 0
            elif rng.random() < 0.1:
                offset = int(rng.choice([4, 7]))
            pitch = _fit(_pitch(root, scale, degree + offset, 36), 28, 52)
            vel = int(np.clip(rng.normal(95, 10), 40, 127))
            notes.append(Note(grid.time(bar, beat), length * grid.beat_s, pitch, vel))
    return notes


def _comp(rng: np.random.Generator, grid: _Grid, chords: list[tuple[float, float, int]], root: int,
          scale: tuple[int, ...], n_bars: int, program: int) -> list[Note]:
    """Chord accompaniment: sustained, block, strummed (guitars), off-beat or arpeggiated."""
    guitar = 24 <= program < 32
    style = rng.choice(["sustain", "blocks", "arp", "offbeat", "strum" if guitar else "blocks"])
    low = int(rng.integers(48, 58))
    bpb = grid.beats_per_bar
    notes: list[Note] = []
    for start, length, degree in chords:
        tones = [degree, degree + 2, degree + 4] + ([degree + 6] if rng.random() < 0.3 else [])
        pitches = sorted(_fit(_pitch(root, scale, d, 48), low, low + 14) for d in tones)
        if style == "sustain":
            hits = [(start, length)]
        elif style in ("blocks", "strum"):
            every = rng.choice([1, 2])
            hits = [(start + b, 0.9 if style == "blocks" else 1.8) for b in np.arange(0, length, every)]
        elif style == "offbeat":
            hits = [(start + b + 0.5, 0.35) for b in range(int(length))]
        else:  # arpeggio, one pitch per step
            step = float(rng.choice([0.5, 0.25]))
            order = pitches + pitches[-2:0:-1]
            for k, b in enumerate(np.arange(0, length, step)):
                t_beat = start + b
                bar, beat = divmod(t_beat, bpb)
                if bar >= n_bars:
                    break
                notes.append(Note(grid.time(int(bar), beat), step * grid.beat_s * 1.2,
                                  order[k % len(order)], int(np.clip(rng.normal(80, 10), 30, 127))))
            continue
        for t_beat, dur in hits:
            bar, beat = divmod(t_beat, bpb)
            if bar >= n_bars:
                break
            t0 = grid.time(int(bar), beat)
            vel = int(np.clip(rng.normal(78, 12), 30, 127))
            for j, p in enumerate(pitches):
                lag = j * float(rng.uniform(0.008, 0.025)) if style == "strum" else 0.0
                notes.append(Note(t0 + lag, dur * grid.beat_s, p, vel))
    return notes


def _melody(rng: np.random.Generator, grid: _Grid, chords: list[tuple[float, float, int]], root: int,
            scale: tuple[int, ...], start_beat: float, end_beat: float, low: int, high: int,
            density: float) -> list[Note]:
    """A scale-wise random walk favouring chord tones on strong beats; `density` ~ notes per beat."""
    palette = np.array([0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0, 3.0])
    weights = np.exp(-np.abs(np.log2(palette) - np.log2(1.0 / max(density, 0.25))))
    weights /= weights.sum()
    center = (low + high) // 2
    degree = int(rng.integers(-2, 3)) + 7 * ((center - 48 - root) // 12)
    t = start_beat
    notes: list[Note] = []
    bpb = grid.beats_per_bar
    while t < end_beat - 0.2:
        length = float(min(rng.choice(palette, p=weights), end_beat - t))
        if rng.random() < 0.12 and notes:  # a rest inside the phrase
            t += length
            continue
        step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2, -3, 3, 4, -4]))
        degree += step
        if abs(t % 1.0) < 1e-6 and rng.random() < 0.6:  # land on a chord tone
            chord = _chord_at(chords, t)
            candidates = [chord + o + 7 * k for o in (0, 2, 4) for k in range(-3, 4)]
            degree = min(candidates, key=lambda d: abs(d - degree))
        pitch = _pitch(root, scale, degree, 48)
        if pitch < low or pitch > high:
            degree -= 2 * step if step else 3
            pitch = _fit(_pitch(root, scale, degree, 48), low, high)
        bar, beat = divmod(t, bpb)
        notes.append(Note(grid.time(int(bar), beat), length * grid.beat_s * float(rng.uniform(0.75, 1.0)),
                          pitch, int(np.clip(rng.normal(90, 12), 40, 127))))
        t += length
    return notes


def _syllables(rng: np.random.Generator, n: int, language: str) -> list[str]:
    """`n` singable syllables: English words for English voices (mostly), else pseudo-syllables."""
    if language.startswith("en") and rng.random() < 0.7:
        return [str(w) for w in rng.choice(ENGLISH_WORDS, n)]
    return ["".join((str(rng.choice(SYLLABLE_ONSETS)), str(rng.choice(SYLLABLE_VOWELS)),
                     str(rng.choice(SYLLABLE_CODAS)))) for _ in range(n)]


def _sentence(rng: np.random.Generator, language: str, n_words: int) -> list[str]:
    """Random words of the language (a small built-in list, or pseudo-words) to speak."""
    lang = language.split("-")[0]
    if lang == "en":
        return [str(w) for w in rng.choice(ENGLISH_WORDS, n_words)]
    if lang in WORDS:
        return [str(w) for w in rng.choice(WORDS[lang], n_words)]
    return ["".join(_syllables(rng, int(rng.integers(1, 4)), "xx")) for _ in range(n_words)]


def _espeak_voice(rng: np.random.Generator, register: str) -> str:
    """An espeak-ng voice `language+variant`, the variant matching the register (rarely a whisper)."""
    language = str(rng.choice(ESPEAK_LANGUAGES))
    variant = str(rng.choice(FEMALE_VARIANTS if register == "female" else MALE_VARIANTS))
    if rng.random() < 0.04:
        variant = str(rng.choice(["whisper", "whisperf"]))
    return f"{language}+{variant}"


def compose(rng: np.random.Generator, duration_s: float) -> Arrangement:
    """Draw one random arrangement of `duration_s` seconds."""
    tempo = float(rng.uniform(68, 165))
    beats_per_bar = 3 if rng.random() < 0.15 else 4
    swing = float(rng.choice([0.0, 0.0, 0.0, rng.uniform(0.15, 0.33)]))
    grid = _Grid(tempo, beats_per_bar, swing)
    n_bars = int(np.ceil(duration_s / grid.bar_s))
    root = int(rng.integers(0, 12))
    mode = str(rng.choice(list(MODES)))
    scale = MODES[mode]
    chords = _chords(rng, n_bars, beats_per_bar)
    humanize_s = float(rng.uniform(0.0, 0.012))

    parts: dict[str, list[Part]] = {"drums": [], "bass": [], "other": [], "vocals": []}

    def channel_settings() -> dict:
        return {"volume": int(rng.integers(80, 121)), "pan": int(np.clip(rng.normal(64, 28), 0, 127)),
                "reverb": int(rng.integers(0, 90)),
                "chorus": int(rng.choice([0, 0, int(rng.integers(0, 80))]))}

    if rng.random() < 0.9:
        parts["drums"].append(Part("drums", int(rng.choice(DRUM_KITS)), True,
                                   _drums(rng, grid, n_bars, humanize_s), **channel_settings()))
    if rng.random() < 0.93:
        program = int(rng.choice(BASS_PROGRAMS))
        parts["bass"].append(Part("bass", program, False, _bass(rng, grid, chords, root, scale, n_bars),
                                  **channel_settings()))
    for k in range(int(rng.choice([1, 1, 2, 2, 3]))):
        program = int(rng.choice(CHORD_PROGRAMS))
        notes = _comp(rng, grid, chords, root, scale, n_bars, program)
        parts["other"].append(Part(f"chords{k}", program, False, notes, **channel_settings()))

    # vocal plan: phrases with gaps; some tracks keep long instrumental-only stretches
    female = rng.random() < 0.5
    register = "female" if female else "male"
    v_low, v_high = (57, 79) if female else (43, 67)
    shift = int(rng.integers(-3, 4))
    v_low, v_high = v_low + shift, v_high + shift
    bpb = beats_per_bar
    total_beats = n_bars * bpb
    quiet = (0.0, 0.0)
    r = rng.random()
    if r < 0.05:
        quiet = (0.0, float(total_beats))  # instrumental track
    elif r < 0.4:
        length = float(rng.uniform(0.3, 0.6)) * total_beats
        start = float(rng.choice([0.0, total_beats - length, rng.uniform(0, total_beats - length)]))
        quiet = (start, start + length)
    track_style = rng.choice(["sung", "sung", "sung", "spoken", "mixed"])
    lead_voice = _espeak_voice(rng, register)
    festival_share = float(rng.uniform(0.0, 0.6))
    gm_voice_share = float(rng.choice([0.0, 0.0, 0.0, 0.0, rng.uniform(0.2, 1.0)]))
    formant_share = float(rng.uniform(0.2, 0.8))
    gm_voice_program = int(rng.choice(VOICE_PROGRAMS))
    density = float(rng.uniform(0.7, 3.0))
    phrases: list[VocalPhrase] = []
    gm_voice_notes: list[Note] = []
    speed = int(rng.integers(120, 200))
    t_beat = float(bpb * rng.choice([0, 1, 2]))
    while t_beat < total_beats - bpb:
        length = float(bpb * rng.choice([1, 2, 2, 3, 4]))
        end = min(t_beat + length, total_beats)
        if not (t_beat < quiet[1] and end > quiet[0]):  # outside the instrumental-only stretch
            start_s = grid.time(int(t_beat // bpb), t_beat % bpb)
            end_s = min(grid.time(int(end // bpb), end % bpb), duration_s)
            spoken = track_style == "spoken" or (track_style == "mixed" and rng.random() < 0.5)
            use_festival = rng.random() < festival_share
            if spoken:
                n_words = max(2, int((end_s - start_s) * speed / 60 * rng.uniform(0.6, 1.0)))
                if use_festival:
                    words = _sentence(rng, "en", n_words)
                    shift_st = float(rng.uniform(3, 8) if female else rng.uniform(-3, 2))
                    phrases.append(VocalPhrase("festival-speak", start_s, end_s, words,
                                               pitch_shift_semitones=shift_st,
                                               gain_db=float(rng.normal(0, 1.5))))
                else:
                    voice = lead_voice if rng.random() < 0.8 else _espeak_voice(rng, register)
                    phrases.append(VocalPhrase("espeak-speak", start_s, end_s,
                                               _sentence(rng, voice.split("+")[0], n_words), voice=voice,
                                               speed_wpm=speed, pitch=int(rng.integers(20, 80)),
                                               gain_db=float(rng.normal(0, 1.5))))
            else:
                notes = _melody(rng, grid, chords, root, scale, t_beat, end, v_low, v_high, density)
                if notes and rng.random() < gm_voice_share:
                    gm_voice_notes.extend(notes)
                elif notes:
                    source = "festival-sing" if use_festival else "espeak-sing"
                    if use_festival:
                        voice = "kal"
                    else:
                        voice = lead_voice if rng.random() < 0.85 else _espeak_voice(rng, register)
                    phrases.append(VocalPhrase(source, start_s, end_s, _syllables(rng, len(notes), voice),
                                               notes=notes, voice=voice, speed_wpm=speed,
                                               gain_db=float(rng.normal(0, 1.5)),
                                               preserve_formants=bool(rng.random() < formant_share)))
        t_beat = end + float(bpb * rng.choice([0.5, 1, 1, 2, 3, 4]) * (0.5 if track_style == "spoken" else 1))
    if gm_voice_notes:
        parts["vocals"].append(Part("voice-patch", gm_voice_program, False, gm_voice_notes,
                                    **channel_settings()))
    if (phrases or gm_voice_notes) and rng.random() < 0.1:  # backing choir pad on some chords
        pad = [n for n in _comp(rng, grid, chords, root, scale, n_bars, 52) if rng.random() < 0.5]
        pad = [n for n in pad if not (quiet[0] * grid.beat_s <= n.start_s < quiet[1] * grid.beat_s)]
        choir_program = int(rng.choice(VOICE_PROGRAMS))
        parts["vocals"].append(Part("choir", choir_program, False, pad, **channel_settings()))

    # a lead instrument: melodic phrases in random bars, over the voice or between its phrases
    if rng.random() < 0.75:
        program = int(rng.choice(LEAD_PROGRAMS))
        lead: list[Note] = []
        t_beat = 0.0
        l_low = int(rng.integers(55, 68))
        while t_beat < total_beats - 1:
            length = float(bpb * rng.choice([1, 2]))
            if rng.random() < 0.55:
                lead += _melody(rng, grid, chords, root, scale, t_beat, min(t_beat + length, total_beats),
                                l_low, l_low + 19, float(rng.uniform(0.7, 4.0)))
            t_beat += length
        parts["other"].append(Part("lead", program, False, lead, **channel_settings()))

    for stem in parts.values():  # keep every note inside the track
        for part in stem:
            part.notes = [n for n in part.notes if n.start_s < duration_s - 0.05]
            for n in part.notes:
                n.dur_s = max(0.03, min(n.dur_s, duration_s - n.start_s))
    description = {"tempo_bpm": round(tempo, 1), "beats_per_bar": beats_per_bar, "key_root": root,
                   "mode": mode, "vocal_register": register, "vocal_style": str(track_style),
                   "programs": {s: [p.program for p in ps] for s, ps in parts.items()}}
    return Arrangement(duration_s, tempo, beats_per_bar, root, mode, parts, phrases, register, description)
