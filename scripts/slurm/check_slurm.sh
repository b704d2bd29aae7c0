#!/usr/bin/env bash
# Checks scripts/slurm/train.sbatch against a real single-node Slurm on this machine: starts
# munged, slurmctld and slurmd (Debian's slurm-wlm; root) with a slurm.conf of its own,
# submits configs/tiny.yaml for 3,000 steps on 2 tasks, requeues the job with `scontrol
# requeue` once it has trained a while (Slurm's SIGTERM, then KillWait, as on preemption),
# and checks that the first start saved when Slurm signalled it (the only save: the run's
# save interval is past its end), that the second resumed from that checkpoint, and that
# the run finished. Prints what it saw; exits non-zero on any
# failure. Then the same for the time limit: a 2-minute job warned 80 s before it
# (--signal) saves, requeues itself and resumes. Outside the test suite (it needs slurm-wlm
# and about five minutes).
#
#   apt-get install slurm-wlm && scripts/slurm/check_slurm.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
export SLURM_CONF="$work/slurm.conf"
host="$(hostname)"
mkdir -p "$work"/{state,spool,log} /run/munge
cat >"$SLURM_CONF" <<CONF
ClusterName=tessera-check
SlurmctldHost=$host
SlurmctldPort=6917
SlurmdPort=6918
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=30
NodeName=$host CPUs=$(nproc) RealMemory=8000 State=UNKNOWN
PartitionName=check Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
chown munge:munge /run/munge
pgrep -x munged >/dev/null || runuser -u munge -- munged
slurmctld
slurmd
cleanup() {
  scancel --full --quiet --user root 2>/dev/null || true
  kill "$(cat "$work/slurmd.pid" 2>/dev/null)" "$(cat "$work/slurmctld.pid" 2>/dev/null)" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo

run="$work/run"
steps=1500
job=$(CONFIG=configs/tiny.yaml RUN="$run" ARGS="--set train.steps=$steps --set train.log_interval=50 --set train.save_interval=100000" \
  sbatch --parsable --ntasks-per-node=2 --time=10 --output="$work/job.out" scripts/slurm/train.sbatch)
echo "submitted job $job"
state() { scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
for _ in $(seq 120); do grep -q "^step 200/" "$work/job.out" 2>/dev/null && break; sleep 1; done
echo "requeueing job $job at: $(grep "^step" "$work/job.out" | tail -n 1)"
scontrol requeue "$job"
for _ in $(seq 600); do
  case "$(state)" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) break ;; esac
  sleep 1
done
echo "job $job ended: $(state)"
echo "---- job output ----"
cat "$work/job.out"
echo "--------------------"
failures=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; failures=$((failures + 1)); fi; }
check "the job completed" '[ "$(state)" = COMPLETED ]'
check "it started twice (requeued once)" 'grep -q ", start 1," "$work/job.out" && grep -q ", start 2," "$work/job.out"'
# Saves come only from the signal (save_interval is past the run); the killed first start's
# own lines may be lost with its output pipe, but its checkpoint is what the second resumes.
resumed="$(sed -n 's/^resumed from .* at step \([0-9]*\) .*/\1/p' "$work/job.out" | head -n 1)"
check "the first start saved on Slurm's SIGTERM, before the kill (step ${resumed:-none})" \
  '[ -n "$resumed" ] && [ "$resumed" -gt 0 ] && [ "$resumed" -lt "$steps" ]'
check "the second start resumed from that checkpoint" '[ -n "$resumed" ]'
check "the run reached its last step" "[ -f '$run/checkpoints/step-$(printf %08d "$steps").h5' ]"
check "doctor passed on every start" '[ "$(grep -c "agree: the same build" "$work/job.out")" -ge 2 ]'

# The time limit: Slurm's warning (--signal=TERM@80 of a 2-minute limit) reaches every rank,
# they save, and the script requeues the job; the second start resumes. Cancelled then.
run2="$work/run-limit"
job=$(CONFIG=configs/tiny.yaml RUN="$run2" ARGS="--set train.steps=1000000 --set train.log_interval=1000 --set train.save_interval=100000000" \
  sbatch --parsable --ntasks-per-node=2 --time=2 --signal=TERM@80 --output="$work/limit.out" scripts/slurm/train.sbatch)
echo "submitted job $job (2-minute limit)"
for _ in $(seq 400); do grep -q "^resumed from" "$work/limit.out" 2>/dev/null && break; sleep 1; done
scancel "$job"
echo "---- job output (time limit) ----"
grep -v "^step" "$work/limit.out" || true
echo "---------------------------------"
check "Slurm's time-limit warning made every rank save and the script requeue" \
  'grep -q "^tessera: saved before the time limit; requeueing job $job" "$work/limit.out"'
check "the requeued job resumed from that save" 'grep -q "^resumed from .*run-limit/checkpoints/step-" "$work/limit.out"'
[ "$failures" -eq 0 ] && echo "all checks hold" || { echo "$failures failures"; exit 1; }
