#!/usr/bin/env bash
# Install the Debian packages the benchmark uses (idempotent): nbdkit + curl plugin, libnbd tools
# (nbdcopy, nbdinfo), fio (nbd engine), nginx, wrk, redis (server, benchmark, cli), qemu-utils.
# Runs `apt-get update` only when a package is missing. Needs root (or sudo).
set -euo pipefail

packages=(nbdkit nbdkit-plugin-curl libnbd-bin fio nginx-light wrk redis-server redis-tools qemu-utils)

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Debian 12 ships the curl plugin inside the nbdkit package; newer releases split it out.
# nginx-light may be absent (Debian 13): fall back to nginx.
missing=()
for p in "${packages[@]}"; do
  installed "$p" && continue
  case "$p" in
    nbdkit-plugin-curl)
      nbdkit curl --version >/dev/null 2>&1 && continue ;;
    nginx-light)
      command -v nginx >/dev/null 2>&1 && continue ;;
  esac
  missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-tools: everything is installed"
  exit 0
fi

echo "install-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt may hold the lock: wait for it (bounded).
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if "${sudo[@]}" apt-get update -qq; then break; fi
  echo "install-tools: apt-get update failed (attempt $attempt), retrying in 10 s"
  sleep 10
done

available() { apt-cache show "$1" >/dev/null 2>&1; }
to_install=()
for p in "${missing[@]}"; do
  if available "$p"; then to_install+=("$p")
  elif [ "$p" = nginx-light ] && available nginx; then to_install+=(nginx)
  elif [ "$p" = nbdkit-plugin-curl ]; then echo "install-tools: no $p package (the curl plugin ships with nbdkit here)"
  else echo "install-tools: package $p is not available" >&2; exit 1
  fi
done

for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${to_install[@]}"; then
    echo "install-tools: done"
    exit 0
  fi
  echo "install-tools: apt-get install failed (attempt $attempt), retrying in 10 s"
  sleep 10
done
echo "install-tools: could not install ${to_install[*]}" >&2
exit 1
