#!/usr/bin/env bash
# The launcher users call: scripts/mpirun.sh -n 8 .build/release/launch --config configs/760m.yaml
#
# Adds what this kind of machine needs and passes everything else to mpirun:
#   - OPENBLAS_CORETYPE where Debian's OpenBLAS would pick slow kernels (asked of `launch openblas`);
#   - BLAS threads per rank: 1 when ranks >= cores, cores / ranks otherwise;
#   - --oversubscribe when ranks > cores; --allow-run-as-root when run as root.
#
# Stopping: Ctrl-C, or SIGTERM/SIGINT/SIGHUP to this script, asks every rank to finish (or
# drop) its current step, save a checkpoint and exit 0; a third one aborts the job. Open MPI's
# mpirun would instead kill the ranks 2 s after a Ctrl-C, so mpirun runs here in a session of
# its own (a terminal's Ctrl-C reaches only this script) and is sent SIGUSR1, which it
# forwards to every rank and then waits for them.
set -euo pipefail

ranks=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -n|-np|--np|-c) ranks="${args[$((i + 1))]}" ;;
    -n=*|--np=*) ranks="${args[$i]#*=}" ;;
  esac
done
cores=$(nproc)

# Across hosts: every host of the hostfile must answer through the launcher mpirun will use
# (ssh, or --mca plm_rsh_agent), before any rank starts; otherwise one line says which.
# Without this, mpirun reports an unreachable host in a page of its own and may hang.
hostfile="" agent="${OMPI_MCA_plm_rsh_agent:-ssh}"
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -hostfile|--hostfile|-machinefile|--machinefile) hostfile="${args[$((i + 1))]}" ;;
    -mca|--mca) [ "${args[$((i + 1))]}" = plm_rsh_agent ] && agent="${args[$((i + 2))]}" ;;
  esac
done
if [ -n "$hostfile" ]; then
  [ -r "$hostfile" ] || { echo "scripts/mpirun.sh: --hostfile $hostfile: cannot read it" >&2; exit 2; }
  local_names=" localhost $(hostname) $(hostname -s 2>/dev/null || true) $(ip -o addr 2>/dev/null | awk '{split($4, a, "/"); printf "%s ", a[1]}') "
  number=0
  while read -r host _ || [ -n "${host:-}" ]; do
    number=$((number + 1))
    case "$host" in ''|'#'*) continue ;; esac
    case "$local_names" in *" $host "*) continue ;; esac
    if ! answer="$(timeout 30 $agent "$host" true 2>&1 </dev/null)"; then
      echo "scripts/mpirun.sh: $hostfile line $number: host $host does not answer through $agent: $(head -n 1 <<<"$answer")" >&2
      exit 2
    fi
  done <"$hostfile"
fi

# The kernels `launch` would choose, for whatever binary runs (parallel-checks too).
source "$(dirname "$0")/setup.sh"
export_openblas_coretype "$(dirname "$0")/../.build/release/launch"
if [ "$ranks" -ge "$cores" ]; then threads=1; else threads=$((cores / ranks)); fi

flags=(-x "OPENBLAS_NUM_THREADS=$threads")
[ -n "${OPENBLAS_CORETYPE:-}" ] && flags+=(-x OPENBLAS_CORETYPE)
[ "$ranks" -gt "$cores" ] && flags+=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)

setsid mpirun "${flags[@]}" "$@" < /dev/null &
mpirun_pid=$!
requests=0
stop() {
  requests=$((requests + 1))
  if [ "$requests" -eq 1 ]; then
    echo "mpirun.sh: $1: asking every rank to save a checkpoint and stop (send it twice more to abort)" >&2
    kill -USR1 "$mpirun_pid" 2>/dev/null || true
  elif [ "$requests" -ge 3 ]; then
    echo "mpirun.sh: aborting the job" >&2
    kill -TERM "$mpirun_pid" 2>/dev/null || true
  fi
}
trap 'stop SIGINT' INT
trap 'stop SIGTERM' TERM
trap 'stop SIGHUP' HUP
# `wait` returns early when a trapped signal arrives; wait again until mpirun has exited.
status=0
while true; do
  wait "$mpirun_pid" && status=0 || status=$?
  kill -0 "$mpirun_pid" 2>/dev/null || break
done
exit "$status"
