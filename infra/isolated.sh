#!/usr/bin/env bash
# Runs a command in a private network namespace that has only a loopback interface.
#
# DynamoDB Local cannot be told to bind 127.0.0.1; inside the namespace its listener
# exists only on loopback, and no test can reach a real AWS, Notion or Slack endpoint.
# Where namespaces are not available (not root, a container without CAP_SYS_ADMIN),
# the command runs directly and the servers still answer on 127.0.0.1.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD..." >&2; exit 2; }

if [ "${CRM_NO_NETNS:-}" != "1" ] && unshare --net -- true 2>/dev/null; then
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' isolated "$@"
fi
echo "isolated: network namespaces unavailable here; running on the host's loopback" >&2
exec "$@"
