#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and tests with, and only those that are
# missing (so a machine that has them all never calls apt). Uses sudo when not root.
# Optional packages (jemalloc: a faster allocator for consentd, see CMakeLists.txt) are tried
# too, but if they cannot be installed the build goes on without them, with a warning.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config clang-14 libclang-rt-14-dev clang-format
      libssl-dev libsodium-dev librocksdb-dev libboost-dev nlohmann-json3-dev libgtest-dev
      libgmock-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libboost-system-dev
      python3 python3-cryptography curl)
optional=(libjemalloc-dev)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
missing_optional=()
for p in "${optional[@]}"; do installed "$p" || missing_optional+=("$p"); done
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_install() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]} ${missing_optional[*]}"
  $SUDO apt-get update -qq
  apt_install "${missing[@]}"
  [ ${#missing_optional[@]} -eq 0 ] || apt_install "${missing_optional[@]}" ||
    echo "warning: could not install ${missing_optional[*]}; building without them" >&2
else
  echo "installing (optional): ${missing_optional[*]}"
  { $SUDO apt-get update -qq && apt_install "${missing_optional[@]}"; } ||
    echo "warning: could not install ${missing_optional[*]}; building without them" >&2
fi
