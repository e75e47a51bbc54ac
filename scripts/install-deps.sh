#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and tests with, and only those that are
# missing (so a machine that has them all never calls apt). Uses sudo when not root.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev clang-format
      libssl-dev libsodium-dev librocksdb-dev libboost-dev nlohmann-json3-dev libgtest-dev
      libgmock-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libboost-system-dev
      libjemalloc-dev python3 python3-cryptography curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
