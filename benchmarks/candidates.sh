#!/usr/bin/env bash
# Candidate recipes at one fixed budget, run side by side (one torch thread each, same data roots,
# same seed, same wall-clock limit), then scored on the held-out suite by benchmarks/quality.py.
#   bash benchmarks/candidates.sh OUT_DIR MINUTES DATA_DIR [DATA_DIR ...]
# Each run's folder gets last.pt (resumable), log.csv and curves.png; candidates.log collects stdout.
set -euo pipefail
out=${1:?usage: candidates.sh OUT_DIR MINUTES DATA_DIR...}; minutes=${2:?}; shift 2
common=(--data "$@" --epochs 1000 --threads 1 --seed 0 --loss mse --valid-clips 8 --valid-seconds 6
        --time-limit-minutes "$minutes" --quiet)
declare -A recipes=(
  # the current recipe (previous default): seed-like U-Net at full resolution, 256-frame crops
  [current]="--channels 8,16,24,48,64 --batch-size 4 --crop-frames 256 --lr 1.5e-3 --steps-per-epoch 10"
  # band-split U-Nets with additive skips, crops 2× the receptive field with a burn-in, bigger batches
  [band8-add]="--band-split 8 --skip-mode add --channels 24,32,48,64 --batch-size 8 --crop-frames 384
               --burn-in-frames 64 --lr 1.5e-3 --steps-per-epoch 10"
  [band4-add]="--band-split 4 --skip-mode add --channels 16,24,32,48,64 --batch-size 8 --crop-frames 384
               --burn-in-frames 64 --lr 1.5e-3 --steps-per-epoch 10"
)
mkdir -p "$out"
for name in "${!recipes[@]}"; do
  # shellcheck disable=SC2086
  isovox train "${common[@]}" ${recipes[$name]} --out "$out/$name" > "$out/$name.log" 2>&1 &
done
wait
tail -n 2 "$out"/*.log
