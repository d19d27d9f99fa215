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
# lspci-format tests compare our output with (pciutils). The real Linux modules (host_kmod/) build
# with Debian's kernel headers, which the build fetches itself: their Makefile calls gcc-12 by name,
# the prebuilt objtool needs libelf1, and the tests read the .ko files with kmod's modinfo. The
# real-host comparison (hostval) boots Debian's 6.1 kernel in QEMU (qemu-system-x86) and unpacks
# its XZ-compressed vmlinux with xz-utils (busybox's xz cannot decode the kernel's filter). The
# report test opens `pciesim run --report`'s page in headless Chromium (chromium).
packages=(build-essential cmake pkg-config ccache libsystemc-dev libboost-graph-dev libyaml-cpp-dev
          nlohmann-json3-dev libcli11-dev libgtest-dev libbenchmark-dev graphviz pci.ids pciutils
          gcc-12 libelf1 kmod qemu-system-x86 xz-utils chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The first build of a tree fetches the kernel headers with apt-get download (host_kmod/): apt's
# lists must be fresh then, or it asks the mirror for versions a security update has replaced.
builddir=build
[[ $preset == asan ]] && builddir=build-asan
fetch_headers=0
[[ -f "$builddir/host_kmod/kernel-headers/release" ]] || fetch_headers=1
sudo_cmd=()
if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null; then sudo_cmd=(sudo); fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  [[ $EUID -eq 0 || ${#sudo_cmd[@]} -gt 0 ]] || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
elif ((fetch_headers)); then
  "${sudo_cmd[@]}" apt-get update -qq || echo "setup: could not refresh apt's lists; fetching the kernel headers may fail" >&2
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
