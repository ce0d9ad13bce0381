#!/usr/bin/env bash
# The sweep launcher on a real single-node Slurm cluster (tests/slurm/cluster.sh), as test_sweep_slurm.cpp runs
# it: a 12-run sweep in 3 array tasks; task 1 gets the pre-timeout signal mid-run, checkpoints, requeues itself
# and finishes; task 2 fails (a stranger's file in its run directory), is listed by status and is the only one
# `sweep resume` submits again; collect writes the table. Leaves the sweep in WORK/sweep for the bitwise check.
#   sweep_on_slurm.sh WORK      (MECHLAB_BINARY: the mechlab to test; exit 77: Slurm cannot run here)
set -euo pipefail
work="${1:?usage: sweep_on_slurm.sh WORK}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mechlab="${MECHLAB_BINARY:?set MECHLAB_BINARY}"
source "$here/common.sh"
step_of_pack1() { tail -n 1 "$sweep/packs/pack_0001/replica_0/metrics.jsonl" 2>/dev/null | sed -n 's/^{"step":\([0-9]*\).*/\1/p'; }
pack1_past() { local s; s="$(step_of_pack1)"; [ -n "$s" ] && [ "$s" -ge "$1" ]; }
requeued() { grep -q '"requeued": true' "$sweep/packs/pack_0001.state.json"; }
pack1_back() { ! requeued || grep -q '"state": "started"' "$sweep/packs/pack_0001.state.json"; }
released() { scontrol update jobid="${job}_1" StartTime=now >/dev/null 2>&1 || true; pack1_back; }

write_base slurm_tiny 1000 1000
cat > "$work/spec.json" <<JSON
{
  "name": "slurm_test",
  "base": {"config": "$work/base.json"},
  "axes": {"product": [{"model.n_heads": [1, 2, 4]}]},
  "seeds": {"range": [0, 4]},
  "pack": 4,
  "out": "$sweep",
  "launch": {"launcher": "slurm", "slurm": {"time": "10", "signal_seconds": 60, "cpus_per_task": 1}}
}
JSON

"$mechlab" sweep launch "$work/spec.json" --emit-only
for line in "--array=0-2" "--requeue" "--open-mode=append" "--signal=B:USR1@60" "--time=10"; do
  grep -q -- "^#SBATCH $line\$" "$sweep/sweep.sbatch" || fail "sweep.sbatch lacks #SBATCH $line"
done
mkdir -p "$sweep/packs/pack_0002" && echo mine > "$sweep/packs/pack_0002/notes.txt"

submitted="$("$mechlab" sweep resume "$sweep")"
echo "$submitted"
job="$(echo "$submitted" | sed -n 's/.*submitted Slurm job \([0-9]*\).*/\1/p')"
[ -n "$job" ] || fail "no job id in: $submitted"
wait_for 120 "pack 1 to pass step 500" pack1_past 500
scancel --signal=USR1 --batch "${job}_1"
echo "sent USR1 to ${job}_1 at step $(step_of_pack1)"
wait_for 60 "pack 1 to checkpoint and requeue" requeued
wait_for 120 "pack 1 to start again" released
wait_for 180 "the array to finish" queue_empty

status="$("$mechlab" sweep status "$sweep")"
echo "$status"
grep -q "12 runs in 3 packs: 8 done, 0 running, 4 failed" <<<"$status" || fail "status after the first submission"
grep -q "^pack_0002 .* failed .*exit 2 (a mistake in the config or arguments): mechlab: config error: outputs.dir" <<<"$status" ||
  fail "status does not show pack 2's exit code and last line"
grep -q "resuming from step" "$sweep/packs/pack_0001/log.txt" || fail "pack 1 was not resumed from a checkpoint"
grep -q "requeuing Slurm job ${job}_1" "$sweep/logs/pack_0001.log" || fail "pack 1's log lacks its requeue"
grep -q "JobState=FAILED.*ArrayTaskId=2 " "$work/cluster/jobcomp.txt" || fail "Slurm did not record task 2 as failed"

rm "$sweep/packs/pack_0002/notes.txt"
again="$("$mechlab" sweep resume "$sweep")"
echo "$again"
grep -q "(1 array tasks: 2)" <<<"$again" || fail "resume submitted more than the failed pack: $again"
wait_for 180 "the rerun to finish" queue_empty
status="$("$mechlab" sweep status "$sweep")"
echo "$status"
grep -q "12 runs in 3 packs: 12 done" <<<"$status" || fail "not every run is done after resume"
"$mechlab" sweep collect "$sweep"
[ "$(wc -l < "$sweep/results.csv")" = 13 ] || fail "results.csv does not have 12 rows"
echo "slurm sweep test: passed"
