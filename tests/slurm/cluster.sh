#!/usr/bin/env bash
# A single-node Slurm cluster for the sweep test, without systemd: `cluster.sh start DIR` writes DIR/slurm.conf,
# starts munged (unless it runs already), slurmctld and slurmd, and waits for the node to be idle; `cluster.sh
# stop DIR` cancels every job and stops what start started. The node has two fake GPUs (character devices
# DIR/nvidia0 and nvidia1, so `--gres=gpu:1` gives each task its own CUDA_VISIBLE_DEVICES) and 8 GPU shards; DIR/
# fake_gpus exists when they could be made. Needs root and Debian's slurmctld, slurmd, slurm-client and munge
# (scripts/setup --slurm). Exit 77 means the cluster cannot run here (the reason printed).
set -euo pipefail
action="${1:?usage: cluster.sh start|stop DIR}" run="${2:?usage: cluster.sh start|stop DIR}"
conf="$run/slurm.conf"
skip() { echo "cannot start a Slurm cluster here: $*" >&2; exit 77; }

stop() {
  export SLURM_CONF="$conf"
  scancel --user=root >/dev/null 2>&1 || true
  for daemon in slurmd slurmctld; do
    [ -f "$run/$daemon.pid" ] && kill "$(cat "$run/$daemon.pid")" 2>/dev/null || true
  done
  if [ -f "$run/munged.started" ]; then pkill -x munged 2>/dev/null || true; fi
  # Wait until they are gone: a scenario started right after would find a dying munged and not start its own.
  for _ in $(seq 50); do
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || { [ -f "$run/munged.started" ] && pgrep -x munged >/dev/null; } || break
    sleep 0.2
  done
}

start() {
  [ "$(id -u)" = 0 ] || skip "slurmd must run as root"
  for tool in slurmctld slurmd sbatch scontrol squeue sinfo scancel munged munge unmunge; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup --slurm installs Slurm and munge)"
  done
  mkdir -p "$run/state" "$run/slurmd" "$run/log"
  local node gres=""
  node="$(hostname -s)"
  rm -f "$run/nvidia0" "$run/nvidia1" "$run/fake_gpus"
  if mknod "$run/nvidia0" c 195 0 2>/dev/null && mknod "$run/nvidia1" c 195 1 2>/dev/null; then
    gres="Gres=gpu:2,shard:8"
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/nvidia[0-1]\nNodeName=%s Name=shard Count=8\n' \
      "$node" "$run" "$node" > "$run/gres.conf"
    touch "$run/fake_gpus"
  fi
  sed "s|\$RUN|$run|g; s|\$NODE|$node|g; s|\$CPUS|$(nproc)|g; s|\$GRES|$gres|g; s|\$TYPES|${gres:+GresTypes=gpu,shard}|g" \
    > "$conf" <<'CONF'
ClusterName=mechlabtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmdSpoolDir=$RUN/slurmd
StateSaveLocation=$RUN/state
SlurmctldLogFile=$RUN/log/slurmctld.log
SlurmdLogFile=$RUN/log/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=$RUN/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MaxArraySize=1001
KillWait=5
InactiveLimit=0
MinJobAge=300
$TYPES
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=4000 $GRES State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  if ! pgrep -x munged >/dev/null; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    su -s /bin/sh munge -c munged || skip "munged does not start"
    touch "$run/munged.started"
  fi
  munge -n | unmunge >/dev/null 2>&1 || skip "munge does not authenticate (munge -n | unmunge)"
  slurmctld -f "$conf" || skip "slurmctld does not start (see $run/log/slurmctld.log)"
  slurmd -f "$conf" || skip "slurmd does not start (see $run/log/slurmd.log)"
  export SLURM_CONF="$conf"
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -q idle; then return 0; fi
    sleep 0.5
  done
  stop
  skip "the node did not become idle within 30 s (see $run/log/)"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
