#!/usr/bin/env bash
# Reproduces the retrieval study (docs/studies/retrieval.md): multi-step variable retrieval in the pair-token
# and triple-token layouts, one run per setting with its seeds trained together as replicas.
#
#   scripts/reproduce/retrieval.sh [--small|--paper|--depth-law|--three-layers] [--device cpu|cuda] [--jobs N] [--only REGEX]
#                                  [--time-limit SECONDS] [--runs-only|--figures-only]
#
# --small (default): d_model 64, short runs of the pair-token settings (one layer; two layers with and without
#   the curriculum), on the CPU in about 10 minutes on 2 cores. --paper: d_model 128, batch 1024, 8 seeds per
#   setting, the layers x depth grid and the triple-token depth law, for one GPU (TF32 products). --depth-law: the
#   triple-token depth law alone with 8 seeds at D = 8, two to four layers trained 24k steps each, then how
#   many layers D = 2 and 4 need (about 40 minutes of one H200, beyond --paper's budget; the GPU is full with
#   these, so --jobs only overlaps them; run it as several --time-limit commands; --only '_D8$' is the law
#   alone, about 35 minutes). --three-layers: three pair-token layers at D = 5 and 8 trained 24k
#   steps (about 12 minutes of one H200 for the two at once, --jobs 2), then the order split at depth 5 of every
#   D = 5 seed (scripts/figures/retrieval_order.py; replica_<r>/order_depth5.txt and .json), set beside
#   scripts/figures/retrieval_causal_orders.py's count in order_depth5_vs_count.md. --jobs N trains N
#   settings at once (default 1; small runs share a GPU well, the depth law's fill it); --only REGEX trains the
#   settings whose names match it (awk). MECHLAB_BINARY names a mechlab to use instead of building one, PYTHON a
#   Python with NumPy for the order splits and figures (default /usr/bin/python3, set up by scripts/setup). Runs go
#   to results/retrieval/<scale>/<setting>, the emergence table and figures to results/retrieval/<scale>/figures.
#   Every run starts with --resume: rerunning continues interrupted runs and leaves finished ones alone.
#   --time-limit SECONDS stops the command after that long: running settings get SIGTERM (they checkpoint and
#   exit), none starts later, the command exits 3, and the same command run again continues where it stopped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/scripts/reproduce/study_runs.sh"
device="" scale=small jobs=1 only="" runs=1 figures=1 time_limit=
while [ $# -gt 0 ]; do
  case "$1" in
    --small) scale=small ;;
    --paper) scale=paper ;;
    --depth-law) scale=depth_law ;;
    --three-layers) scale=three_layers ;;
    --device)
      [ $# -ge 2 ] || { echo "retrieval.sh: --device needs cpu or cuda" >&2; exit 2; }
      device="$2"; shift ;;
    --jobs)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "retrieval.sh: --jobs needs a positive integer" >&2; exit 2; }
      jobs="$2"; shift ;;
    --only)
      [ $# -ge 2 ] || { echo "retrieval.sh: --only needs a regular expression over setting names" >&2; exit 2; }
      only="$2"; shift ;;
    --time-limit)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "retrieval.sh: --time-limit needs a number of seconds" >&2; exit 2; }
      time_limit="$2"; shift ;;
    --runs-only) figures=0 ;;
    --figures-only) runs=0 ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "retrieval.sh: unknown argument '$1'; use --small, --paper, --depth-law, --three-layers, --device cpu|cuda, --jobs N, --only REGEX, --time-limit SECONDS, --runs-only or --figures-only" >&2; exit 2 ;;
  esac
  shift
done
check_device retrieval.sh "$device"

# One setting per line: its name, its config in configs/retrieval, and overrides of that config.
small_settings() {
  local s="model.d_model=64 train.batch_size=128 train.eval_every=100 train.log_every=100 train.eval_batch_size=512"
  echo "pair_L1_D4 pair_2layer model.n_layers=1 train.steps=2000 $s"
  echo "pair_L2_D2 pair_2layer task.steps=2 train.steps=3000 $s"
  echo "pair_L2_D2_fixed pair_2layer task.steps=2 task.query_depth=fixed train.steps=3000 $s"
  echo "pair_L2_D3 pair_2layer task.steps=3 train.steps=6000 seeds=[0,1] $s train.batch_size=512"
}
paper_settings() {
  # Batch 1024 (pair_2layer.json) with TF32 products: the settings of docs/studies/retrieval.md. The two-layer
  # D = 4 pair (16k steps, the slowest seed solves depth 2 near 10k) and its fixed-depth control share a budget;
  # the grid's cells are shorter, enough for the depths they can solve (one layer: depth 1 by 250 steps).
  local p="train.matmul_precision=tf32"
  echo "pair_L1_D4 pair_2layer model.n_layers=1 train.steps=4000 $p"
  echo "pair_L2_D4 pair_2layer $p"
  echo "pair_L2_D4_fixed pair_2layer task.query_depth=fixed $p"
  local layers depth steps
  for cell in 1:2 1:3 2:2 2:3 2:5 3:5; do
    layers=${cell%:*} depth=${cell#*:} steps=$([ "$layers" = 1 ] && echo 4000 || echo 8000)
    echo "grid_L${layers}_D${depth} pair_2layer model.n_layers=$layers task.steps=$depth train.steps=$steps $p"
  done
  # Triple tokens, dense target over interleaved chains, rotary positions: the depth law against layers, with
  # 4 seeds each (these are 30x the pair settings' products per step).
  for layers in 2 3 4; do
    echo "triple_L${layers}_D8 triple_dense_rotary model.n_layers=$layers task.steps=8 seeds=[0,1,2,3] $p"
  done
}
depth_law_settings() {
  # --paper's triple-token settings with 8 seeds and one budget, 24k steps: four layers need that long to solve
  # D = 8 (docs/studies/retrieval.md), and two and three layers get as many, so that the law compares layers, not
  # budgets. D = 8 for all three: at D = 12 four layers solved less (median 5 at 16k steps).
  paper_settings | awk '$1 ~ /^triple_/ {
    sub(/seeds=\[0,1,2,3\]/, "seeds=[0,1,2,3,4,5,6,7]"); print $0, "train.steps=24000" }'
  # How many layers chains of D = 2 and 4 need (shorter chains, fewer steps; after the three above, so they fill
  # the GPU as those end).
  local layers depth
  for cell in 1:2 2:2 2:4 3:4; do
    layers=${cell%:*} depth=${cell#*:}
    echo "triple_L${layers}_D${depth} triple_dense_rotary model.n_layers=$layers task.steps=$depth" \
      "seeds=[0,1,2,3,4,5,6,7] train.matmul_precision=tf32 train.steps=$((depth == 2 ? 4000 : 8000))"
  done
}
three_layers_settings() {
  # Past the grid's 8k steps: where three layers' staircase ends (docs/studies/retrieval.md, "Three layers at
  # D = 5 and 8").
  local p="model.n_layers=3 train.steps=24000 train.matmul_precision=tf32"
  echo "pair_L3_D5 pair_2layer task.steps=5 $p"
  echo "pair_L3_D8 pair_2layer task.steps=8 $p"
}
# The settings whose heads are mean-ablated per depth after training (configs/retrieval/ablate_heads.json), and
# those whose seeds' accuracy at a depth is split by the order of the query chain (SETTING:DEPTH).
ablated_settings="pair_L2_D4"
order_split_settings="pair_L3_D5:5"

study="$root/results/retrieval/$scale"
if [ "$runs" = 1 ]; then
  mechlab="$(mechlab_binary)"
  mkdir -p "$study"
  started=$SECONDS
  left() { echo $((time_limit - (SECONDS - started))); }  # seconds left under --time-limit
  train_setting() {  # NAME CONFIG OVERRIDE...
    local name="$1" config="$2" start=$SECONDS status=0
    shift 2
    # Under --time-limit the run gets SIGTERM when the time is up: it finishes its step, checkpoints and exits
    # (timeout then exits 124); --resume continues it next time.
    ${time_limit:+timeout --signal=TERM --kill-after=120 "$(left)"} \
      "$mechlab" run "$root/configs/retrieval/$config.json" "$@" --resume --out "$study/$name" \
      --threads "$threads" ${device:+--device "$device"} > "$study/$name.log" 2>&1 || status=$?
    case $status in
      0) echo "== $name done in $((SECONDS - start)) s" >&2 ;;
      124) echo "== $name stopped at the time limit after $((SECONDS - start)) s; run again to continue" >&2; return 3 ;;
      *) echo "== $name FAILED (see $study/$name.log)" >&2; return 1 ;;
    esac
  }
  threads=$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))  # the settings running at once share the cores
  failed=0 stopped=0
  collect() { wait -n && return; case $? in 3) stopped=1 ;; *) failed=1 ;; esac; }
  while read -r name config overrides; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do collect; done
    if [ -n "$time_limit" ] && [ "$(left)" -le 30 ]; then stopped=1; break; fi  # too late to start another
    echo "== $name: $config $overrides" >&2
    # shellcheck disable=SC2086  # the overrides are words
    train_setting "$name" "$config" $overrides &
  done < <("${scale}_settings" | awk -v re="${only:-.}" '$1 ~ re')
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do collect; done
  [ "$failed" = 0 ] || { echo "retrieval.sh: some settings failed" >&2; exit 1; }
  if [ "$stopped" = 1 ]; then
    echo "== time limit reached after $((SECONDS - started)) s; run the same command again to continue" >&2
    exit 3
  fi
  echo "== all settings trained in $((SECONDS - started)) s" >&2
  for name in $ablated_settings; do
    if [ -f "$study/$name/replica_0/summary.json" ] && [ ! -f "$study/$name/analysis/heads_depth1/table.json" ]; then
      echo "== $name: mean-ablating each head per depth" >&2
      "$mechlab" analyze "$study/$name" "$root/configs/retrieval/ablate_heads.json" ${device:+--device "$device"} \
        > "$study/$name.analysis.log" 2>&1 || { echo "== $name analysis FAILED (see $study/$name.analysis.log)" >&2; exit 1; }
    fi
  done
  for entry in $order_split_settings; do
    name=${entry%:*} depth=${entry#*:}
    for replica in "$study/$name"/replica_*; do
      [ -f "$replica/summary.json" ] && [ ! -f "$replica/order_depth$depth.json" ] || continue
      echo "== $name/$(basename "$replica"): accuracy at depth $depth by the order of the chain" >&2
      "$python" "$root/scripts/figures/retrieval_order.py" "$replica" --depth "$depth" --mechlab "$mechlab" \
        --json "$replica/order_depth$depth.json" > "$replica/order_depth$depth.txt" 2>&1 ||
        { echo "== order split FAILED (see $replica/order_depth$depth.txt)" >&2; exit 1; }
    done
    # The splits beside the counting model's verdict on each order (docs/studies/retrieval.md).
    splits=("$study/$name"/replica_*/order_depth"$depth".json)
    [ -f "${splits[0]}" ] || continue  # a setting this scale does not train
    layers=$("${scale}_settings" | awk -v n="$name" '$1 == n' | grep -o 'n_layers=[0-9]*' | cut -d= -f2)
    "$python" "$root/scripts/figures/retrieval_causal_orders.py" --max-depth "$depth" --failing "$layers" "$depth" \
      --compare "${splits[@]}" > "$study/$name/order_depth${depth}_vs_count.md"
  done
fi
if [ "$figures" = 1 ]; then draw_figures retrieval.py "$study"; fi
