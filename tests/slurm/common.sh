# Sourced by the Slurm scenarios (sweep_on_slurm.sh, gpus_on_slurm.sh) with $here, $work and $mechlab set: starts
# the single-node cluster under $work/cluster (stopped when the scenario exits) and gives them the helpers below.
"$here/cluster.sh" start "$work/cluster"
trap '"$here/cluster.sh" stop "$work/cluster"' EXIT
export SLURM_CONF="$work/cluster/slurm.conf"
sweep="$work/sweep"

fail() {
  echo "FAILED: $*" >&2
  "$mechlab" sweep status "$sweep" >&2 || true
  squeue >&2 || true
  for log in "$sweep"/logs/*.log; do [ -f "$log" ] && { echo "--- last lines of $log" >&2; tail -n 8 "$log" >&2; }; done
  echo "--- jobs Slurm finished" >&2; cat "$work/cluster/jobcomp.txt" >&2 2>/dev/null || true
  echo "--- last lines of slurmctld.log" >&2; tail -n 25 "$work/cluster/log/slurmctld.log" >&2 2>/dev/null || true
  exit 1
}
queue_empty() { [ -z "$(squeue -h -o %i)" ]; }
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  for _ in $(seq $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  fail "waited $seconds s for $what"
}
# write_base NAME EVAL_EVERY CHECKPOINT_EVERY: $work/base.json, a model that trains 4000 steps in a few seconds.
write_base() {
  cat > "$work/base.json" <<JSON
{
  "name": "$1", "seed": 0,
  "task": {"name": "bigram_backcopy", "seq_len": 16},
  "model": {"n_layers": 1, "n_heads": 1, "d_model": 16, "d_mlp": 32},
  "optim": {"lr": 1e-3},
  "train": {"steps": 4000, "batch_size": 8, "eval_every": $2, "eval_batch_size": 16, "log_every": 100,
            "checkpoint_every": $3},
  "outputs": {"dumps": "none"}
}
JSON
}
