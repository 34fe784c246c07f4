#!/usr/bin/env bash
# Installs, from Debian bookworm's packages, whatever anchord needs to build, test and
# benchmark that is not installed yet. Idempotent: a second run installs nothing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config g++ clang clang-format
  # libraries (found with pkg-config)
  libosip2-dev libopus-dev libspandsp-dev libspeexdsp-dev libsystemd-dev liburing-dev
  libtomlplusplus-dev libexpected-dev nlohmann-json3-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real peers and tools for the integration tests
  sip-tester baresip baresip-core sox python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
