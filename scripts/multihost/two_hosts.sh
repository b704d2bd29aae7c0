#!/usr/bin/env bash
# Two hosts on one machine, for running Tessera across hosts for real: network namespaces
# joined by a veth pair, each with its own address and host name, reached by Open MPI's
# launcher through netns_agent.sh instead of ssh. Ranks talk over TCP only (no shared
# memory between the hosts). The run directory is on the machine's one filesystem, which
# both hosts see, as a cluster's shared storage would be. Needs root (CI runs as root).
#
#   scripts/multihost/two_hosts.sh up                # tessera-a 10.77.0.1, tessera-b 10.77.0.2
#   scripts/multihost/two_hosts.sh mpirun -n 2 .build/release/launch train --config configs/tiny.yaml
#   scripts/multihost/two_hosts.sh down
#
# `mpirun` runs scripts/mpirun.sh on tessera-a with a hostfile of both hosts (slots =
# ranks / 2 each) and the settings a multi-host Open MPI run needs (README, "Across hosts"):
# btl tcp,self, btl_tcp_if_include and oob_tcp_if_include set to the hosts' subnet, and
# plm_rsh_agent. TESSERA_HOSTS_STATE (default /tmp/tessera-hosts) keeps the host list;
# TESSERA_HOSTS_PREFIX (default tessera) names the namespaces.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${TESSERA_HOSTS_STATE:-/tmp/tessera-hosts}"
prefix="${TESSERA_HOSTS_PREFIX:-tessera}"
subnet="${TESSERA_HOSTS_SUBNET:-10.77.0}"
a="$prefix-a" b="$prefix-b"

up() {
  down 2>/dev/null || true
  mkdir -p "$state"
  ip netns add "$a"
  ip netns add "$b"
  ip link add "$prefix-va" type veth peer name "$prefix-vb"
  ip link set "$prefix-va" netns "$a"
  ip link set "$prefix-vb" netns "$b"
  ip -n "$a" addr add "$subnet.1/24" dev "$prefix-va"
  ip -n "$b" addr add "$subnet.2/24" dev "$prefix-vb"
  for namespace in "$a" "$b"; do ip -n "$namespace" link set lo up; done
  ip -n "$a" link set "$prefix-va" up
  ip -n "$b" link set "$prefix-vb" up
  printf '%s %s\n%s %s\n' "$a" "$subnet.1" "$b" "$subnet.2" >"$state/hosts"
  echo "two_hosts.sh: $a ($subnet.1) and $b ($subnet.2) are up"
}

down() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -f "$state/hosts"
}

run_mpirun() {
  [ -f "$state/hosts" ] || { echo "two_hosts.sh: run '$0 up' first" >&2; exit 2; }
  local ranks=2 args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in -n|-np) ranks="${args[$((i + 1))]}" ;; esac
  done
  local slots=$(((ranks + 1) / 2))
  printf '%s slots=%d\n%s slots=%d\n' "$subnet.1" "$slots" "$subnet.2" "$slots" >"$state/hostfile"
  local flags=(--hostfile "$state/hostfile" --mca plm_rsh_agent "$here/netns_agent.sh"
    --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24"
    -x TESSERA_HOSTS_STATE)
  export TESSERA_HOSTS_STATE="$state"
  # Through scripts/mpirun.sh, as users launch: it checks every host answers, sets root and
  # BLAS-thread flags, and turns SIGTERM into a save on every rank.
  exec ip netns exec "$a" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$a" \
    "$here/../mpirun.sh" "${flags[@]}" "$@"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  mpirun) shift; run_mpirun "$@" ;;
  *) echo "usage: $0 up | down | mpirun -n N COMMAND..." >&2; exit 2 ;;
esac
