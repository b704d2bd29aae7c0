#!/usr/bin/env bash
# Open MPI's remote launcher for the two hosts of two_hosts.sh: mpirun calls it where it
# would call ssh (`--mca plm_rsh_agent`), as `netns_agent.sh [options] HOST COMMAND...`, and
# it runs COMMAND (Open MPI's daemon, a shell command line) inside HOST's network namespace
# under HOST's own host name. HOST is a namespace's address or name from the hostfile.
set -euo pipefail
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done  # ssh-style options: none apply
host="${1:?netns_agent.sh: no host given}"
shift
state="${TESSERA_HOSTS_STATE:-/tmp/tessera-hosts}"
namespace=""
while read -r name address; do
  if [ "$host" = "$name" ] || [ "$host" = "$address" ]; then namespace="$name"; fi
done <"$state/hosts"
if [ -z "$namespace" ] || ! ip netns list | grep -qw "$namespace"; then
  echo "netns_agent.sh: host $host is not one of $(tr '\n' ' ' <"$state/hosts")(is two_hosts.sh up?)" >&2
  exit 255
fi
exec ip netns exec "$namespace" unshare --uts /bin/sh -c "hostname $namespace && $*"
