#!/usr/bin/env bash
# Reproduces the in-context linear regression study (docs/studies/icl_linreg.md): trains one-layer softmax
# attention with H = 1, 2, 4, 8 heads, linear attention and Toeplitz covariates (d = 5, L = 40; linear attention scaled 1/L_train and 1/L), and the
# multi-task variant with H = 3 and 4 (d = 6, L = 48), 30k steps each on the CPU (about 30 minutes on 2
# cores), then draws every figure.
#
#   scripts/reproduce/icl_linreg.sh [--device cpu|cuda] [--runs-only|--figures-only]
#
# Runs go to results/icl_linreg/<run>, figures to results/icl_linreg/figures. Every run is started with
# --resume: rerunning continues interrupted runs and leaves finished ones alone.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/scripts/reproduce/study_runs.sh"
device="" runs=1 figures=1
while [ $# -gt 0 ]; do
  case "$1" in
    --device)
      [ $# -ge 2 ] || { echo "icl_linreg.sh: --device needs cpu or cuda" >&2; exit 2; }
      device="$2"; shift ;;
    --runs-only) figures=0 ;;
    --figures-only) runs=0 ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "icl_linreg.sh: unknown argument '$1'; use --device cpu|cuda, --runs-only or --figures-only" >&2; exit 2 ;;
  esac
  shift
done
check_device icl_linreg.sh "$device"

study="$root/results/icl_linreg"
if [ "$runs" = 1 ]; then
  train_runs "$study" "$device" icl_linreg/ h1 h2 h4 h8 linear_h2 linear_by_length_h2 toeplitz_h2 toeplitz_h2_seed1 multitask_h3 multitask_h4
fi
if [ "$figures" = 1 ]; then draw_figures icl_linreg.py "$study"; fi
