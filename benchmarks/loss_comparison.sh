#!/usr/bin/env bash
# Loss and look-ahead comparison behind isovox/models/MODEL_CARD.md: identical data snapshot, seed and
# budget per run. DATA: a folder of corpus tracks (the card used 30 tracks of corpus-train).
set -euo pipefail
data=${1:?usage: loss_comparison.sh DATA_DIR [OUT_DIR]}; out=${2:-runs}
common="--data $data --epochs 3 --steps-per-epoch 15 --batch-size 8 --crop-frames 64 --threads 1 --seed 0
        --valid-clips 6 --valid-seconds 6 --quiet --no-augment"
for loss in l1 mse l1c sdr; do
  isovox train $common --loss "$loss" --out "$out/cmp-$loss" | tail -n 1
done
isovox train $common --loss l1 --lookahead-frames 4 --out "$out/cmp-l1-la4" | tail -n 1
