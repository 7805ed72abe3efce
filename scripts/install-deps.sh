#!/usr/bin/env bash
# Installs the Debian packages Capillary builds and tests against, only when they are missing.
# Idempotent: a second run on a ready machine does nothing and touches no package list.
set -euo pipefail

# Packages needed to build and test. Optional extras are added by flags below.
packages=(pkg-config libuv1-dev libjansson-dev libopenblas-dev libpng-dev socat neovim)

# --mpi: Open MPI (headers, libmpi and mpirun) for the separate mpi/ package (`capillary-mpi`, `make mpi`).
# The plain build never needs it; only the MPI build and its test ask for it.
for arg in "$@"; do
  case "$arg" in
    --mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    *) echo "install-deps: unknown option $arg (known: --mpi)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
