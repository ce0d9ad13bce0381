#!/usr/bin/env bash
# Reproduces the IOI study (docs/studies/ioi.md): trains the symbolic preset's three shapes with 64 seeds each
# (1 layer x 2 heads, 2 layers x 1 head, 1 layer x 1 head; about 5 minutes on 2 cores), analyses each with its
# spec (the heads' roles, the composition paths), then writes the tables and figures.
#
#   scripts/reproduce/ioi.sh [--templates] [--device cpu|cuda] [--runs-only|--figures-only]
#
#   --templates  also the templates preset: 1 layer x 2 heads attention-only and 2 layers with MLPs, 64 seeds
#                each, 3 layers with MLPs, 8 seeds, 10k steps (for a GPU: --device cuda; hours on 2 cores), with
#                the heads' roles, their ablations, and the circuits of 8 seeds per multi-layer model
#                (scripts/figures/ioi_circuits.py, ioi_roles.py)
#
# Runs go to results/ioi/<run>, their analyses to results/ioi/<run>/analysis, tables and figures to
# results/ioi/figures. MECHLAB_BINARY names a mechlab to use instead of building one. Every run is started
# with --resume: rerunning continues interrupted runs and leaves finished ones alone; the analyses are
# recomputed (seconds).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/scripts/reproduce/study_runs.sh"
device="" runs=1 figures=1 templates=0
while [ $# -gt 0 ]; do
  case "$1" in
    --templates) templates=1 ;;
    --device)
      [ $# -ge 2 ] || { echo "ioi.sh: --device needs cpu or cuda" >&2; exit 2; }
      device="$2"; shift ;;
    --runs-only) figures=0 ;;
    --figures-only) runs=0 ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "ioi.sh: unknown argument '$1'; use --templates, --device cpu|cuda, --runs-only or --figures-only" >&2; exit 2 ;;
  esac
  shift
done
check_device ioi.sh "$device"

study="$root/results/ioi"
# Each symbolic shape with the analysis spec that reads its heads.
declare -A spec=([symbolic_1layer_2heads]=roles_1layer_2heads [symbolic_2layers_1head]="composition_2layers_1head subspace_2layers_1head"
                 [symbolic_1layer_1head]=roles_1layer_1head)
template_runs=(templates_1layer_2heads templates_2layers_mlp templates_3layers_mlp)
if [ "$templates" = 1 ]; then
  spec[templates_1layer_2heads]=heads_templates_1layer
  spec[templates_2layers_mlp]="roles_templates subspace_templates" spec[templates_3layers_mlp]="roles_templates subspace_templates"
fi
mechlab="$(mechlab_binary)"
if [ "$runs" = 1 ]; then
  shapes=(symbolic_1layer_2heads symbolic_2layers_1head symbolic_1layer_1head)
  [ "$templates" = 0 ] || shapes+=("${template_runs[@]}")
  train_runs "$study" "$device" ioi/ "${shapes[@]}"
  for run in "${!spec[@]}"; do
    : > "$study/$run.analysis.log"
    for name in ${spec[$run]}; do
      echo "== analyse $run (configs/ioi/$name.json)" >&2
      "$mechlab" analyze "$study/$run" "$root/configs/ioi/$name.json" \
        ${device:+--device "$device"} >> "$study/$run.analysis.log" 2>&1 \
        || { echo "ioi.sh: the analysis of $run failed (see $study/$run.analysis.log)" >&2; exit 1; }
    done
  done
fi
if [ "$figures" = 1 ]; then
  draw_figures ioi.py "$study"
  "$python" "$root/scripts/figures/ioi_roles.py" "$study"/symbolic_{1layer_2heads,2layers_1head,1layer_1head} --name symbolic
  "$python" "$root/scripts/figures/ioi_one_layer.py" "$study/symbolic_1layer_1head" > "$study/figures/single_head.txt"
  "$python" "$root/scripts/figures/ioi_one_layer.py" "$study/symbolic_1layer_2heads" > "$study/figures/two_heads_edits.txt"
  echo "$study/figures/single_head.txt"
  echo "$study/figures/two_heads_edits.txt"
  if [ "$templates" = 1 ]; then
    for run in templates_2layers_mlp templates_3layers_mlp; do
      "$python" "$root/scripts/figures/ioi_circuits.py" "$study/$run" --mechlab "$mechlab" --seeds 8 \
        ${device:+--device "$device"}
    done
    "$python" "$root/scripts/figures/ioi_roles.py" "${template_runs[@]/#/$study/}" --name templates
  fi
fi
