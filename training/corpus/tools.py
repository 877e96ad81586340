"""External renderers the corpus needs, located once, with a fix-it error when one is missing."""
from __future__ import annotations

import fnmatch
import os
import shutil
from dataclasses import dataclass

from isovox.core.errors import LicenceError, ToolMissingError

SOUNDFONT_PATH = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# soundfonts ../shared/DATA.md reserves to measure generalisation (names after following links:
# default-GM.sf2 points at one of them), and the held-out suite's instrument set
RESERVED_SOUNDFONTS = ("MuseScore_General*", "FluidR3Mono*", "TimGM6mb*", "GeneralUser*", "freepats*")
DRUM_KIT_DIR = "/usr/share/sounds/sf2"  # avldrums.lv2-soundfont's two recorded kits
FESTIVAL_KAL_DIR = "/usr/share/festival/voices/english/kal_diphone"

# program -> apt package that provides it
_PACKAGES = {"fluidsynth": "fluidsynth", "espeak-ng": "espeak-ng", "text2wave": "festival"}


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the renderers: fluidsynth, espeak-ng, festival's text2wave, the General MIDI
    soundfont and the recorded drum kits (one kit per soundfont, as its only preset)."""

    fluidsynth: str
    espeak: str
    text2wave: str
    soundfont: str
    drum_soundfonts: tuple[str, ...] = ()


def _which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise ToolMissingError(
            f"`{program}` not found on PATH; the corpus needs it: apt-get install {_PACKAGES[program]}")
    return path


def check_soundfont(soundfont: str) -> None:
    """Refuse a soundfont that ../shared/DATA.md reserves (`LicenceError`), following links."""
    for name in {os.path.basename(soundfont), os.path.basename(os.path.realpath(soundfont))}:
        if any(fnmatch.fnmatch(name.lower(), pattern.lower()) for pattern in RESERVED_SOUNDFONTS):
            raise LicenceError(f"soundfont {soundfont} ({os.path.realpath(soundfont)}) is reserved: it measures "
                               "how isovox generalises and is never trained on; pass another font")


def find_tools(soundfont: str = SOUNDFONT_PATH, drum_soundfonts: tuple[str, ...] = ()) -> Tools:
    """Locate every renderer; raise `ToolMissingError` naming the apt package of the first missing one."""
    fluidsynth = _which("fluidsynth")
    if not os.path.isfile(soundfont):
        raise ToolMissingError(f"soundfont {soundfont} not found; the corpus needs it: apt-get install "
                               "fluid-soundfont-gm (the default), or pass an existing .sf2/.sf3 to --soundfont")
    check_soundfont(soundfont)
    for kit in drum_soundfonts:
        if not os.path.isfile(kit):
            raise ToolMissingError(f"drum soundfont {kit} not found: apt-get install avldrums.lv2-soundfont "
                                   f"(Black_Pearl_4_LV2.sf2, Red_Zeppelin_4_LV2.sf2 in {DRUM_KIT_DIR}), "
                                   "or pass an existing .sf2 to --drum-soundfont")
        check_soundfont(kit)
    espeak = _which("espeak-ng")
    text2wave = _which("text2wave")
    if not os.path.isdir(FESTIVAL_KAL_DIR):
        raise ToolMissingError(
            f"festival voice kal ({FESTIVAL_KAL_DIR}) not found: apt-get install festvox-kallpc16k")
    return Tools(fluidsynth=fluidsynth, espeak=espeak, text2wave=text2wave, soundfont=soundfont,
                 drum_soundfonts=tuple(drum_soundfonts))
