#!/usr/bin/env bash
# A throwaway single-machine Slurm cluster (Debian's slurm-wlm 22.05) for
# tests of `scn agent --slurm`.
#
#   scripts/slurm-local.sh start DIR   write DIR/slurm.conf, start munged,
#                                      slurmctld and slurmd, wait until the node
#                                      is idle, print `export SLURM_CONF=...`
#   scripts/slurm-local.sh env DIR     print the export line of a running cluster
#   scripts/slurm-local.sh stop DIR    stop the three daemons (DIR stays)
#
# The cluster: this machine's `hostname -s` is the one node (NodeAddr
# 127.0.0.1) in one partition `scn`, declared with SCN_SLURM_CPUS (16) CPUs
# and SCN_SLURM_MEM_MB (32000) MB whatever the hardware has
# (SlurmdParameters=config_overrides), so several replica jobs fit at once.
# slurmctld and slurmd listen on free loopback ports; state, spool, logs, the
# munge key and munged's socket are all under DIR. Process tracking is
# proctrack/linuxproc, no task plugin, no cgroups, no accounting database
# (finished jobs are read with `scontrol show job` within MinJobAge). Daemons
# and jobs run as the calling user (root in CI). Several clusters can run at
# once in different DIRs (each its own ClusterName, ports and munged).
# Any failure prints why (with the daemon's log) and exits 1.
set -euo pipefail

SCRIPT_NAME=slurm-local.sh
# shellcheck source=scripts/lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh"
parse_cmd_dir "$@"
CONF=$DIR/slurm.conf
MUNGE_SOCK=$DIR/munge/munge.socket
((${#MUNGE_SOCK} < 100)) || die "$DIR is too long a path for munged's socket; use a shorter DIR"
CPUS=${SCN_SLURM_CPUS:-16}
MEM_MB=${SCN_SLURM_MEM_MB:-32000}
NODE=$(hostname -s)
export SLURM_CONF=$CONF

running() { [[ -f $DIR/$1.pid ]] && pid_alive "$(cat "$DIR/$1.pid")"; }

print_env() {
  echo "export SLURM_CONF=$CONF"
}

write_conf() {
  local ctld_port slurmd_port
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(free_port); done
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/munge" "$DIR/jobs"
  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh: a single-machine test cluster.
ClusterName=scn$(basename "$DIR" | tr -cd 'a-z0-9' | tail -c 20)
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=60
KillWait=5
MessageTimeout=5
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
SlurmdParameters=config_overrides
PlugStackConfig=$DIR/plugstack.conf
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=scn Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  : >"$DIR/plugstack.conf"
}

start_munge() {
  running munged && return
  mkdir -p "$DIR/munge" "$DIR/log"
  command -v munged >/dev/null || die "munged not found (apt-get install munge)"
  if [[ ! -f $DIR/munge/munge.key ]]; then
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
  fi
  chmod 700 "$DIR/munge"
  chmod 400 "$DIR/munge/munge.key"
  rm -f "$MUNGE_SOCK" "$MUNGE_SOCK.lock"
  munged --force --key-file="$DIR/munge/munge.key" --socket="$MUNGE_SOCK" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munge.seed" >"$DIR/log/munged.out" 2>&1 ||
    { cat "$DIR/log/munged.out" "$DIR/log/munged.log" >&2 2>/dev/null; die "munged did not start"; }
  for _ in $(seq 1 100); do
    [[ -S $MUNGE_SOCK ]] && return
    sleep 0.05
  done
  die "munged did not create $MUNGE_SOCK"
}

# Slurm's clients retry an unreachable controller for MessageTimeout seconds;
# `timeout` keeps one probe short.
node_state() { timeout 4 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }

# Starts slurmctld and slurmd and waits (up to 30 s by the clock) until the
# node is usable. Returns 1, with the daemons' log tails on stderr, when a
# daemon exits or the node does not come up: the caller retries on new ports.
start_slurm() {
  command -v slurmctld >/dev/null || die "slurmctld not found (apt-get install slurmctld slurmd slurm-wlm)"
  if ! running slurmctld; then
    slurmctld -f "$CONF" >"$DIR/log/slurmctld.out" 2>&1 ||
      { tail -n 20 "$DIR/log/slurmctld.out" "$DIR/log/slurmctld.log" >&2 2>/dev/null; return 1; }
  fi
  if ! running slurmd; then
    slurmd -f "$CONF" -N "$NODE" >"$DIR/log/slurmd.out" 2>&1 ||
      { tail -n 20 "$DIR/log/slurmd.out" "$DIR/log/slurmd.log" >&2 2>/dev/null; return 1; }
  fi
  local state="" deadline=$((SECONDS + 30)) d
  while ((SECONDS < deadline)); do
    state=$(node_state || true)
    case $state in
      idle | mixed | allocated) return 0 ;;
    esac
    for d in slurmctld slurmd; do
      # A daemon writes its pid file once it is up; a missing file after a
      # few seconds, or a dead pid, means it exited (e.g. its port is taken).
      if ((SECONDS > deadline - 25)) && ! running "$d"; then
        echo "slurm-local.sh: $d exited; the end of its log:" >&2
        tail -n 20 "$DIR/log/$d.log" >&2 2>/dev/null || true
        return 1
      fi
    done
    sleep 0.2
  done
  echo "slurm-local.sh: node $NODE is '$state', not idle, after 30 s; the end of the daemons' logs:" >&2
  tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 2>/dev/null || true
  return 1
}

stop_one() {
  local name=$1 pid
  running "$name" || { rm -f "$DIR/$name.pid"; return; }
  pid=$(cat "$DIR/$name.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    pid_alive "$pid" || break
    sleep 0.05
  done
  pid_alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  rm -f "$DIR/$name.pid"
}

case $CMD in
  start)
    start_munge
    for attempt in 1 2 3; do
      if ! running slurmctld || [[ ! -f $CONF ]]; then
        stop_one slurmd
        write_conf
      fi
      if start_slurm; then
        print_env
        exit 0
      fi
      echo "slurm-local.sh: start attempt $attempt failed; retrying on new ports" >&2
      stop_one slurmd
      stop_one slurmctld
      rm -f "$CONF"
    done
    die "Slurm did not start after 3 attempts (logs under $DIR/log)"
    ;;
  env)
    running slurmctld || die "slurmctld is not running for $DIR"
    print_env
    ;;
  stop)
    # Jobs first (their steps are children of slurmd's slurmstepd).
    if running slurmctld; then scancel --full -u "$(id -un)" >/dev/null 2>&1 || true; fi
    stop_one slurmd
    stop_one slurmctld
    stop_one munged
    # Orphaned step daemons of this cluster's spool.
    for p in $(pgrep -f "slurmstepd" 2>/dev/null || true); do
      if grep -qs "$DIR" "/proc/$p/environ" "/proc/$p/cmdline"; then kill -9 "$p" 2>/dev/null || true; fi
    done
    ;;
  *) usage ;;
esac
