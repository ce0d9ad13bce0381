#!/usr/bin/env bash
# Reproduces the Bigram-Backcopy study (docs/studies/bigram_backcopy.md): trains the 1-layer model and the
# 3-layer Adam, SGD and ReLU-attention models, then draws every figure.
#
#   scripts/reproduce/bigram_backcopy.sh [--small|--paper] [--device cpu|cuda] [--runs-only|--figures-only]
#
#   --small    CPU-sized configs (d_model 64, T 64, batch 64; about 12 minutes on 2 cores), the default
#   --paper    the paper's sizes (d_model 256, T 256, batch 512; 100k + 3 x 10k steps; meant for a GPU)
#   --device   overrides the configs' train.device (small: cpu, paper: cuda)
#
# Runs go to results/bigram_backcopy/<small|paper>/<run>, figures to results/bigram_backcopy/<size>/figures.
# Every run is started with --resume: rerunning continues interrupted runs and leaves finished ones alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/scripts/reproduce/study_runs.sh"
size=small device="" runs=1 figures=1
while [ $# -gt 0 ]; do
  case "$1" in
    --small) size=small ;;
    --paper) size=paper ;;
    --device)
      [ $# -ge 2 ] || { echo "bigram_backcopy.sh: --device needs cpu or cuda" >&2; exit 2; }
      device="$2"; shift ;;
    --runs-only) figures=0 ;;
    --figures-only) runs=0 ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "bigram_backcopy.sh: unknown argument '$1'; use --small, --paper, --device cpu|cuda, --runs-only or --figures-only" >&2
       exit 2 ;;
  esac
  shift
done
check_device bigram_backcopy.sh "$device"

study="$root/results/bigram_backcopy/$size"
if [ "$runs" = 1 ]; then
  train_runs "$study" "$device" "bigram_backcopy/${size}_" 1layer 3layer_adam 3layer_sgd 3layer_relu_attention
fi
if [ "$figures" = 1 ]; then draw_figures bigram_backcopy.py "$study"; fi
