#!/usr/bin/env bash
# Boots the hostval guest (docs/hostval.md) -- a QEMU q35 machine with QEMU's emulated VT-d running
# Debian 12's Linux 6.1 -- on a given device list, and writes the host report its init collected.
#
#   tests/hostval/run-guest.sh --qemu-devices FILE --out REPORT.json [options]
#
#   --qemu-devices FILE  QEMU devices, one a line: "-device SPEC" or just "SPEC"
#                        (pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x1); blank lines and
#                        lines starting with # are skipped. Parents before children, as QEMU wants.
#   --out FILE           where the report goes
#   --guest DIR          the guest the build made (vmlinux, initramfs.cpio, hostfacts); default
#                        $PCIESIM_HOSTVAL_GUEST, else build/hostval-guest of this source tree
#   --timeout S          the whole run, boot to power-off (default 600)
#   --kvm auto|on|off    auto (default): KVM when /dev/kvm is usable and a first boot under it
#                        reaches init within 10 s (decided once, cached in the guest directory),
#                        else TCG
#   --memory MIB         guest memory (default 1024)
#   --devices LIST       collect.sh --devices in the guest (default auto: every edu)
#   --drivers LIST       collect.sh --drivers in the guest (default vfio-pci,pciesim_vfio_pci)
#   --append ARGS        more kernel command line arguments
#   --console FILE       keep the guest's serial console log there
#
# Exit status: 0 the report was written; 1 QEMU failed, the guest timed out or sent no report (the
# console's tail is printed); 2 bad usage or a malformed device file; 77 cannot run here: no
# qemu-system-x86_64, no guest image, or QEMU cannot start even a bare q35 machine (ctest's
# SKIP_RETURN_CODE).
set -uo pipefail

prog=run-guest
die() { echo "$prog: $*" >&2; exit 1; }
skip() { echo "$prog: SKIPPED: $*" >&2; exit 77; }
bad() { echo "$prog: $*" >&2; exit 2; }
usage() { sed -n '/^#   tests\/hostval\/run-guest.sh/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
devices_file='' out='' guest=${PCIESIM_HOSTVAL_GUEST:-$here/../../build/hostval-guest}
timeout_s=600 kvm=auto memory=1024 devices=auto drivers=vfio-pci,pciesim_vfio_pci append='' console=''
while [[ $# -gt 0 ]]; do
  case $1 in -h | --help) usage ;; esac
  [[ $# -ge 2 ]] || { echo "$prog: $1 needs a value" >&2; usage; }
  case $1 in
    --qemu-devices) devices_file=$2 ;;
    --out) out=$2 ;;
    --guest) guest=$2 ;;
    --timeout) timeout_s=$2 ;;
    --kvm) kvm=$2 ;;
    --memory) memory=$2 ;;
    --devices) devices=$2 ;;
    --drivers) drivers=$2 ;;
    --append) append=$2 ;;
    --console) console=$2 ;;
    *) echo "$prog: unknown option $1" >&2; usage ;;
  esac
  shift 2
done
[[ -n "$devices_file" && -n "$out" ]] || { echo "$prog: --qemu-devices and --out are required" >&2; usage; }
[[ "$kvm" =~ ^(auto|on|off)$ ]] || { echo "$prog: --kvm auto|on|off" >&2; usage; }
[[ "$timeout_s" =~ ^[0-9]+$ && "$memory" =~ ^[0-9]+$ ]] || { echo "$prog: --timeout and --memory take numbers" >&2; usage; }
[[ -r "$devices_file" ]] || bad "cannot read $devices_file"
case "$devices$drivers" in *[[:space:]]*) bad "--devices and --drivers are comma-separated lists without spaces" ;; esac

# The device list, as QEMU arguments.
qemu_devices=()
lineno=0
while IFS= read -r line || [[ -n "$line" ]]; do
  lineno=$((lineno + 1))
  line=${line%$'\r'}
  line="${line#"${line%%[![:space:]]*}"}"   # leading blanks
  line="${line%"${line##*[![:space:]]}"}"   # trailing blanks
  [[ -z "$line" || "$line" == \#* ]] && continue
  if [[ "$line" == -device[[:space:]]* ]]; then
    line=${line#-device}
    line="${line#"${line%%[![:space:]]*}"}"
  elif [[ "$line" == -* ]]; then
    bad "$devices_file:$lineno: only -device lines are allowed, not '$line'"
  fi
  [[ "$line" != *[[:space:]]* ]] || bad "$devices_file:$lineno: a device spec has no spaces: '$line'"
  qemu_devices+=(-device "$line")
done < "$devices_file"

qemu=$(command -v qemu-system-x86_64) || skip "no qemu-system-x86_64 (Debian: apt-get install qemu-system-x86)"
for f in vmlinux initramfs.cpio hostfacts; do
  [[ -e "$guest/$f" ]] || skip "no guest image: $guest/$f is missing. It is built with the tree when
  PCIESIM_BUILD_HOSTVAL is ON (cmake --build <build> --target hostval_guest), which needs the network once"
done
guest=$(cd "$guest" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/hostval-guest.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$work"' EXIT

# no_timer_check: under TCG on a loaded machine the kernel's early check that the timer interrupt
# arrives through the interrupt-remapped IO-APIC can time out and panic ("timer doesn't work
# through Interrupt-remapped IO-APIC", seen here); the check says nothing about what we compare.
cmdline="console=ttyS0 intel_iommu=on no_timer_check panic=-1 quiet hostval.devices=$devices hostval.drivers=$drivers${append:+ $append}"
# The machine: q35 with QEMU's VT-d and interrupt remapping (which needs the split irqchip under KVM;
# TCG takes it too), nothing QEMU would add by default (-nodefaults: no VGA, no NIC, so the device
# list owns every slot but 00:00.0 and the ICH9 functions at 00:1f), the console on a file.
# intel-iommu comes first: QEMU wants it before the devices it translates for.
# shellcheck disable=SC2054 # commas inside QEMU option values
base_args=(-nodefaults -no-user-config -machine q35,kernel-irqchip=split -m "$memory" -smp 1
           -device intel-iommu,intremap=on -display none -monitor none -no-reboot
           -kernel "$guest/vmlinux" -initrd "$guest/initramfs.cpio")

# Runs QEMU with accelerator $1, console to $2, kernel command line $3, for at most $4 seconds,
# then the device arguments; QEMU's exit status (124 on timeout), its stderr in $work/qemu.err.
run_qemu() {
  local accel=$1 log=$2 append=$3 limit=$4
  shift 4
  : > "$log"
  timeout -k 5 "$limit" "$qemu" "${base_args[@]}" -accel "$accel" -serial "file:$log" -append "$append" "$@" \
    < /dev/null > "$work/qemu.out" 2> "$work/qemu.err"
}

# Whether QEMU starts a bare q35 with VT-d at all (then a failure is the device list's fault).
qemu_starts() {
  timeout 3 "$qemu" -nodefaults -no-user-config -machine q35,kernel-irqchip=split -accel tcg \
    -device intel-iommu,intremap=on -display none -monitor none -S < /dev/null > /dev/null 2> "$work/bare.err"
  [[ $? -eq 124 ]]
}

# KVM only where a kernel boots under it: this machine's /dev/kvm may be a paravirtual KVM that
# accepts QEMU but never runs the guest (SeaBIOS hangs). A first boot under KVM that must reach init
# within 10 s decides, once per QEMU version, host kernel and guest kernel: the verdict is cached
# in the guest directory (delete kvm-check to decide again).
accel=tcg
if [[ "$kvm" == on ]]; then
  accel=kvm
elif [[ "$kvm" == auto && -r /dev/kvm && -w /dev/kvm ]]; then
  key="$("$qemu" --version | head -n1) / host $(uname -r) / guest $(readlink -f "$guest/vmlinux") $(stat -L -c %Y "$guest/vmlinux")"
  cache=$guest/kvm-check
  exec 9>> "$cache.lock"
  command -v flock > /dev/null && flock 9   # parallel runs: one decides, the others read
  if [[ -f "$cache" && "$(head -n1 "$cache")" == "$key" ]]; then
    verdict=$(sed -n 2p "$cache")
  else
    run_qemu kvm "$work/kvm.log" "console=ttyS0 panic=-1 quiet hostval.up_only=1" 10
    if grep -q '=====PCIESIM-GUEST-UP=====' "$work/kvm.log"; then verdict=kvm; else verdict=tcg; fi
    printf '%s\n%s\n' "$key" "$verdict" > "$cache.$$" && mv "$cache.$$" "$cache"
    echo "$prog: KVM $([[ $verdict == kvm ]] && echo boots || echo does not boot) the guest here: using ${verdict^^} (decided once, cached in $cache)" >&2
  fi
  exec 9>&-
  accel=$verdict
fi

log=${console:-$work/console.log}
echo "$prog: booting Linux $(cat "$guest/release" 2>/dev/null) under ${accel^^} with $((${#qemu_devices[@]} / 2)) devices, at most $timeout_s s" >&2
start=$(date +%s.%N)
run_qemu "$accel" "$log" "$cmdline" "$timeout_s" "${qemu_devices[@]}"
status=$?
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

tail_console() {
  if [[ -z "$console" ]] && cp "$log" "$out.console.log" 2>/dev/null; then
    log=$out.console.log
  fi
  echo "--- the last 40 lines of the guest's console (all of it: $log) ---" >&2
  tail -n 40 "$log" | tr -d '\r' >&2
  if [[ -s "$work/qemu.err" ]]; then
    echo "--- QEMU's messages ---" >&2
    cat "$work/qemu.err" >&2
  fi
}

if [[ $status -eq 124 || $status -eq 137 ]]; then
  tail_console
  die "the guest did not power off within $timeout_s s (--timeout) under ${accel^^}"
fi
if [[ $status -ne 0 ]] && ! grep -q '=====PCIESIM-GUEST-UP=====' "$log"; then
  if ! qemu_starts; then
    cat "$work/qemu.err" "$work/bare.err" >&2
    skip "QEMU cannot start a q35 machine with intel-iommu here (above)"
  fi
  tail_console
  die "QEMU exited $status before the guest's init ran: check the device list ($devices_file) against QEMU's messages above"
fi
if ! grep -q '=====PCIESIM-HOST-REPORT-END=====' "$log"; then
  tail_console
  die "the guest sent no report (QEMU exited $status after $took s)"
fi

tr -d '\r' < "$log" | awk '/^=====PCIESIM-HOST-REPORT-END=====/ { on = 0 } on { print } /^=====PCIESIM-HOST-REPORT-BEGIN=====/ { on = 1 }' > "$work/report.json"
if ! "$guest/hostfacts" --json-valid "$work/report.json"; then
  tail_console
  die "the guest's report is not well-formed JSON (console output between the markers?)"
fi
cp "$work/report.json" "$out" || die "cannot write $out"
echo "$prog: wrote $out: the guest booted, probed and powered off in $took s under ${accel^^}" >&2
