#!/usr/bin/env bash
# Sets up a Debian 12 machine for pciesim: installs the Debian packages that are missing,
# configures with CMake presets and builds. Safe to run again; does only what is needed.
#   scripts/setup.sh            release build in build/
#   scripts/setup.sh --asan     AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

preset=default
[[ "${1:-}" == "--asan" ]] && preset=asan

# Why each package: compiler and build (build-essential cmake pkg-config ccache), the models
# (libsystemc-dev: SystemC 2.3 / TLM-2.0; libboost-graph-dev: topology graph), input/output
# (libyaml-cpp-dev, nlohmann-json3-dev, libcli11-dev), tests and benchmarks (libgtest-dev,
# libbenchmark-dev), drawings (graphviz), lspci names (pci.ids), and the real lspci that the
# lspci-format tests compare our output with (pciutils).
packages=(build-essential cmake pkg-config ccache libsystemc-dev libboost-graph-dev libyaml-cpp-dev
          nlohmann-json3-dev libcli11-dev libgtest-dev libbenchmark-dev graphviz pci.ids pciutils)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
