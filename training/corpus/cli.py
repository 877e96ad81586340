"""`isovox make-corpus OUT --minutes N --seed S [--soundfont SF2] [--drum-soundfont KIT.sf2 ...]`: render the
built-in synthetic training corpus (General MIDI accompaniment from one soundfont, optionally recorded drum
kits, rendered voices)."""
from __future__ import annotations

import argparse

from isovox.training.corpus.tools import DRUM_KIT_DIR, SOUNDFONT_PATH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT",
                        help="output folder (new or empty): OUT/{train,test}/<track>/*.wav")
    parser.add_argument("--minutes", type=float, default=60.0, help="minutes of audio to render (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; same seed, same corpus (default 1)")
    parser.add_argument("--sample-rate", type=int, default=44100, help="sample rate in Hz (default 44100)")
    parser.add_argument("--test-fraction", type=float, default=0.1,
                        help="share of tracks held out (default 0.1)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel rendering processes (default 1)")
    parser.add_argument("--soundfont", default=SOUNDFONT_PATH, metavar="SF2",
                        help=f"General MIDI soundfont of the instruments (default: {SOUNDFONT_PATH}); the fonts "
                             "../shared/DATA.md reserves are refused")
    parser.add_argument("--drum-soundfont", action="append", default=[], metavar="KIT.SF2",
                        help="a soundfont whose only preset is one recorded drum kit (repeatable; e.g. "
                             f"{DRUM_KIT_DIR}/Black_Pearl_4_LV2.sf2 from avldrums.lv2-soundfont): it plays "
                             "the acoustic General MIDI kits, one kit per track in turn")


def run(args: argparse.Namespace) -> int:
    from isovox.core.errors import AudioDataError
    from isovox.training.corpus.render import CorpusSettings, make_corpus

    if args.minutes <= 0 or not 0.0 <= args.test_fraction < 1.0 or args.sample_rate < 8000 or args.jobs < 1:
        raise AudioDataError(f"--minutes {args.minutes}, --test-fraction {args.test_fraction}, --sample-rate "
                             f"{args.sample_rate}, --jobs {args.jobs}: expected minutes > 0, "
                             "0 <= fraction < 1, "
                             "rate >= 8000, jobs >= 1; fix the option")
    settings = CorpusSettings(minutes=args.minutes, seed=args.seed, sample_rate=args.sample_rate,
                              test_fraction=args.test_fraction, soundfont=args.soundfont,
                              drum_soundfonts=tuple(args.drum_soundfont))
    manifest = make_corpus(args.out, settings, jobs=args.jobs)
    print(f"wrote {manifest['track_count']} track(s) ({manifest['hours'] * 60:.1f} min) to {args.out}")
    return 0
