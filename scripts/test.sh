#!/usr/bin/env bash
# Runs the whole isovox test suite on a fresh Debian/Ubuntu machine, installing what it needs first:
# apt packages (JACK dummy server, PortAudio, libsndfile, fluidsynth + GM soundfont, espeak-ng,
# festival + kal voice and seven Czech, Finnish and Catalan voices, sox, ffmpeg, the avldrums recorded
# kits), a virtual environment .venv with the CPU torch wheel and isovox[train,dev]. Safe to run
# again: installed pieces are skipped. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(jackd2 libportaudio2 libsndfile1 fluidsynth fluid-soundfont-gm espeak-ng festival
              festvox-kallpc16k festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph
              festvox-suopuhe-lj festvox-suopuhe-mv festvox-ca-ona-hts sox ffmpeg avldrums.lv2-soundfont)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing apt packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# the pinned CPU wheel first: a bare `torch` requirement would pull a multi-GB CUDA build
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[train,dev]"

# live-audio and MIDI tests start their own JACK dummy server; in CI they must not skip
export ISOVOX_REQUIRE_JACK="${ISOVOX_REQUIRE_JACK:-1}"
python -m pytest -q -ra "$@"
