#!/usr/bin/env bash
# Installs the Debian packages the project runs against, only when missing.
# Usage: scripts/apt-deps.sh [runtime|test]
set -euo pipefail
want=(nats-server)
if [ "${1:-runtime}" = test ]; then
  want+=(etcd-server awscli lua5.1)  # lua5.1: the Argo CD health check test (Argo runs Lua 5.1)
fi
missing=()
for p in "${want[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
