#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, running the smoke DAG through profiles/slurm (issue 15).
#
#   sudo tests/slurm/run_slurm_test.sh            # or: PEFTIR_SLURM_TEST=1 pytest -m slurm tests/slurm
#
# Needs root (apt-get, daemons) and Debian/Ubuntu. Steps:
#  1. installs Debian's slurm-wlm and munge (apt-get) and the SLURM executor plugin from the project's own
#     pyproject.toml (its `cluster` extra, pinned) into the venv, unless already there;
#  2. starts munged, slurmctld and slurmd from a private state directory (own ports, own munge socket, own
#     slurm.conf: one node, one partition `peftir` with the machine's CPUs (default 2) and ~20 GB, job
#     completion records in a text file; no slurmdbd: snakemake-executor-plugin-slurm falls back to squeue
#     when accounting is off, and MinJobAge=3600 keeps finished jobs visible to it);
#  3. runs the smoke DAG (config/smoke.yaml) with `snakemake --profile <overlay>`, where the overlay is
#     profiles/slurm/config.yaml with only the cluster-specific values replaced (tests/slurm/overlay.py:
#     partition names, account, GPUs -> 0, sizes that fit the test node, short status polling);
#  4. runs the same DAG locally (`--cores`), in its own directory;
#  5. counts the jobs SLURM ran (job completion records, squeue) against the DAG's non-local jobs, and
#     compares every metrics file and table of the two runs numerically (tests/slurm/compare.py);
#  6. stops the daemons and removes the state directory (KEEP=1 keeps it, for debugging).
# Writes a JSON summary to $SUMMARY (default: <state>/summary.json, printed at the end) and exits non-zero
# on any failure. Env: CPUS (2), MEM_MB (20000), CONFIG (config/smoke.yaml), SKIP_LOCAL=1 (no local run,
# no comparison), SKIP_APT=1.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
BIN="$(dirname "$PY")"
CPUS="${CPUS:-2}"
MEM_MB="${MEM_MB:-20000}"
CONFIG="${CONFIG:-config/smoke.yaml}"
DATA_ROOT="${DATA_ROOT:-$(cd "$REPO/.." && pwd)/shared/data}"
STATE="$(mktemp -d /tmp/peftir-slurm.XXXXXX)"
SUMMARY="${SUMMARY:-$STATE/summary.json}"
NODE="$(hostname -s)"
export SLURM_CONF="$STATE/etc/slurm.conf"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's peftir, whatever the venv points at
export PATH="$BIN:$PATH" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

log() { printf '[slurm-test %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cleanup() {
  local rc=$?
  log "cleaning up (exit $rc)"
  if [ -f "$SLURM_CONF" ] && command -v scancel >/dev/null; then scancel --user="$(id -un)" 2>/dev/null || true; fi
  for p in slurmd slurmctld munged; do
    if [ -f "$STATE/run/$p.pid" ]; then
      pid="$(cat "$STATE/run/$p.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$SLURM_CONF" ]; then rm -f /etc/slurm/slurm.conf; fi
  if [ -f "$SUMMARY" ] && [ "$SUMMARY" != "${SUMMARY#"$STATE"/}" ]; then cat "$SUMMARY"; fi
  if [ "${KEEP:-0}" = 1 ]; then log "state kept in $STATE"; else rm -rf "$STATE"; fi
  exit $rc
}
trap cleanup EXIT
trap "exit 143" TERM INT

[ "$(id -u)" = 0 ] || { echo "run as root (apt-get, SLURM daemons)" >&2; exit 2; }

# --- 1. packages -----------------------------------------------------------------------------------------
if [ "${SKIP_APT:-0}" != 1 ] && ! { command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null; then
  log "apt-get install slurm-wlm munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if ! "$PY" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
  log "installing the cluster extra of pyproject.toml"
  mapfile -t reqs < <("$PY" -c "import tomllib; print('\n'.join(tomllib.load(open('$REPO/pyproject.toml', 'rb'))['project']['optional-dependencies']['cluster']))")
  "$PY" -m pip install -q "${reqs[@]}"
fi

# --- 2. daemons --------------------------------------------------------------------------------------------
mkdir -p "$STATE"/{etc,run,log,ctld,spool,munge,local,slurm}
chmod 755 "$STATE"  # munged runs as the munge user
dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chown -R munge: "$STATE/munge"
chmod 755 "$STATE/munge"; chmod 400 "$STATE/munge/munge.key"  # clients need the socket
runuser -u munge -- /usr/sbin/munged --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.sock" \
  --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/seed"
cp "$STATE/munge/munged.pid" "$STATE/run/munged.pid"

port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }
cat >"$SLURM_CONF" <<CONF
ClusterName=peftirtest
SlurmctldHost=$NODE
SlurmctldPort=$(port)
SlurmdPort=$(port)
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=peftir Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
# Job steps (srun inside a batch job, as the plugin's jobstep executor runs them) do not see SLURM_CONF and
# look for /etc/slurm/slurm.conf: link it there for the test, if the machine has none (removed at the end).
if [ ! -e /etc/slurm/slurm.conf ]; then
  mkdir -p /etc/slurm && ln -s "$SLURM_CONF" /etc/slurm/slurm.conf
elif [ "$(readlink /etc/slurm/slurm.conf)" != "$SLURM_CONF" ]; then
  log "/etc/slurm/slurm.conf exists (a SLURM installation is configured here): not touching it"; exit 2
fi
log "starting slurmctld and slurmd ($CPUS CPUs, $MEM_MB MB, state $STATE)"
/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 1 60); do
  state="$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)"
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || { log "node not idle: '$state'"; tail -20 "$STATE"/log/*.log >&2; exit 1; }
sinfo >&2
if [ "${UP_ONLY:-0}" = 1 ]; then log "UP_ONLY: cluster up; sleeping (Ctrl-C to stop)"; sleep infinity; fi

# --- 3. the smoke DAG through SLURM ------------------------------------------------------------------------
workdir() {  # the repository's workflow linked into a fresh directory (as tests/workflow_testutil.py does)
  for item in Snakefile workflow src envs config config.yaml expected profiles; do ln -s "$REPO/$item" "$1/$item"; done
}
workdir "$STATE/slurm"
"$PY" "$REPO/tests/slurm/overlay.py" "$REPO/profiles/slurm/config.yaml" "$STATE/profile/config.yaml" --cpus "$CPUS"
ARGS=(--configfile "$CONFIG" --config "data_root=$DATA_ROOT" --nolock)
log "snakemake --profile (profiles/slurm + overlay) on $CONFIG"
t0=$(date +%s)
(cd "$STATE/slurm" && snakemake --profile "$STATE/profile" "${ARGS[@]}" >"$STATE/log/snakemake-slurm.log" 2>&1) || {
  log "SLURM run failed"; tail -60 "$STATE/log/snakemake-slurm.log" >&2; tail -30 "$STATE/log/slurmctld.log" >&2; exit 1; }
t_slurm=$(( $(date +%s) - t0 ))
log "SLURM run done in ${t_slurm}s"

# --- 4. the same DAG locally ---------------------------------------------------------------------------------
t_local=null
if [ "${SKIP_LOCAL:-0}" != 1 ]; then
  workdir "$STATE/local"
  t0=$(date +%s)
  (cd "$STATE/local" && snakemake --cores "$CPUS" "${ARGS[@]}" >"$STATE/log/snakemake-local.log" 2>&1) || {
    log "local run failed"; tail -60 "$STATE/log/snakemake-local.log" >&2; exit 1; }
  t_local=$(( $(date +%s) - t0 ))
  log "local run done in ${t_local}s"
fi

# --- 5. evidence and comparison --------------------------------------------------------------------------------
squeue --states=all -h -o '%i|%j|%T' >"$STATE/log/squeue.txt" || true
"$PY" "$REPO/tests/slurm/compare.py" --state "$STATE" --slurm-seconds "$t_slurm" --local-seconds "$t_local" \
  $([ "${SKIP_LOCAL:-0}" = 1 ] || echo --compare) --out "$SUMMARY"
