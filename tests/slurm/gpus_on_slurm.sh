#!/usr/bin/env bash
# Packs on the GPUs Slurm gives them, with the single-node cluster's two fake GPUs (tests/slurm/cluster.sh): a
# sweep of 2 packs with --gpus-per-task 1 runs both array tasks at once, each with its own CUDA_VISIBLE_DEVICES,
# which `mechlab sweep status` shows beside each running pack. The packs train on the CPU (the GPUs are device
# files only); what is tested is what Slurm hands each task and what the sweep records of it.
#   gpus_on_slurm.sh WORK      (MECHLAB_BINARY: the mechlab to test; exit 77: Slurm or fake GPUs cannot run here)
set -euo pipefail
work="${1:?usage: gpus_on_slurm.sh WORK}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mechlab="${MECHLAB_BINARY:?set MECHLAB_BINARY}"
source "$here/common.sh"
[ -f "$work/cluster/fake_gpus" ] || { echo "cannot make the fake GPU device files (mknod) here" >&2; exit 77; }

write_base slurm_gpus 2000 2000
cat > "$work/spec.json" <<JSON
{
  "name": "slurm_gpus", "base": {"config": "$work/base.json"},
  "axes": {"product": [{"model.n_heads": [1, 2]}]}, "seeds": [0, 1], "out": "$sweep",
  "launch": {"launcher": "slurm", "slurm": {"gpus_per_task": 1, "cpus_per_task": 1}}
}
JSON
"$mechlab" sweep launch "$work/spec.json"
grep -q "^#SBATCH --gres=gpu:1$" "$sweep/sweep.sbatch" || fail "sweep.sbatch does not ask for one GPU per task"

# Both packs running at the same moment, each on its own GPU.
seen=""
for _ in $(seq 600); do
  status="$("$mechlab" sweep status "$sweep")"
  if [ "$(grep -c ' running .*GPU [01];' <<<"$status")" = 2 ]; then seen="$status"; break; fi
  grep -q "2 done" <<<"$status" && break
  sleep 0.1
done
[ -n "$seen" ] || fail "never saw both packs running at once"
echo "$seen"
gpus="$(sed -n 's/.* running .*GPU \([01]\);.*/\1/p' <<<"$seen" | sort | tr '\n' ' ')"
[ "$gpus" = "0 1 " ] || fail "the two running packs do not have GPUs 0 and 1 (got: $gpus)"

wait_for 120 "the array to finish" queue_empty
"$mechlab" sweep status "$sweep" | grep -q "4 runs in 2 packs: 4 done" || fail "not every run is done"
echo "slurm gpu test: passed"
