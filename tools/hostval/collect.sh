#!/bin/sh
# collect.sh: this machine as one host report (docs/hostval.md), for `pciesim hostval` to diff
# against the simulated twin. Plain POSIX sh: runs under bash, dash and busybox ash, on a lab
# machine or in the QEMU guest's initramfs (tests/hostval), as root.
#
#   collect.sh --out REPORT.json [--devices auto|none|BDF,...] [--drivers D1,D2,...]
#              [--vfio-probe PATH] [--hostfacts PATH] [--module-dir DIR]
#              [--probe-args 'ARGS'] [--probe-timeout S] [--fault-spacing S] [--root DIR]
#
# Records the kernel release and command line, the kernel log's DMAR lines, every PCI function
# with its ACS registers, driver and IOMMU group (hostfacts), the IOMMU groups, `lspci -vvv -nn`
# where lspci exists; then for each chosen device and each chosen driver in turn: unbinds the
# device, binds it to the driver through driver_override + drivers_probe (loading the driver's
# module first when needed), runs vfio_probe on it, unbinds it, and finally gives the device back
# to the driver it had. Whatever fails is recorded in the report ("error" in the probe, the
# top-level "errors" list), never dropped; the report is written in every case.
#
# Options:
#   --out FILE          where the report goes ("-": standard output). Required.
#   --devices LIST      auto (default): every QEMU edu (1234:11e8); none: no probes; or BDFs
#                       separated by commas (0000:01:00.0, or 01:00.0 for domain 0)
#   --drivers LIST      VFIO drivers to probe with, in order (default vfio-pci,pciesim_vfio_pci)
#   --vfio-probe PATH   the static vfio_probe (default: next to this script, else on PATH)
#   --hostfacts PATH    the static hostfacts (default: next to this script, else on PATH)
#   --module-dir DIR    where DRIVER.ko files are (directly or in DRIVER/DRIVER.ko, as the build
#                       tree's host_kmod/ has them) when `modprobe DRIVER` cannot load a driver
#   --probe-args ARGS   more arguments for vfio_probe (--iova ADDR, --bytes N)
#   --probe-timeout S   a vfio_probe run that takes longer is killed and recorded (default 120)
#   --fault-spacing S   seconds between one probe's end and the next probe's start (default 5):
#                       Linux rate-limits dmar_fault()'s messages to a burst of 10 per 5 s
#                       (DEFAULT_RATELIMIT_*), each fault takes about 3 of them and vfio_probe
#                       causes 2 faults, so back-to-back probes would lose the second one's lines.
#   --root DIR          read and write sysfs under DIR/sys instead of /sys (for tests)
#
# Exit status: 0 when the report was written (read its "errors" and each probe's "exit"/"error"
# for what went wrong on the host), 1 when it could not be written, 2 for bad usage.

usage() {
	sed -n '/^#   collect.sh --out/,/--root DIR\]$/p' "$0" | sed 's/^# //' >&2
	exit 2
}
# echo interprets backslashes in dash and busybox ash: JSON text goes out through put.
put() { printf '%s\n' "$*"; }
log() { put "collect.sh: $*" >&2; }
die() {
	log "$*"
	exit "${die_status:-1}"
}

here=$(cd "$(dirname "$0")" && pwd)
out=
devices=auto
drivers=vfio-pci,pciesim_vfio_pci
vfio_probe=
hostfacts=
module_dir=
probe_args=
probe_timeout=120
fault_spacing=5
root=

while [ $# -gt 0 ]; do
	case $1 in
	--out | --devices | --drivers | --vfio-probe | --hostfacts | --module-dir | --probe-args | \
		--probe-timeout | --fault-spacing | --root)
		[ $# -ge 2 ] || { log "$1 needs a value"; usage; }
		case $1 in
		--out) out=$2 ;;
		--devices) devices=$2 ;;
		--drivers) drivers=$2 ;;
		--vfio-probe) vfio_probe=$2 ;;
		--hostfacts) hostfacts=$2 ;;
		--module-dir) module_dir=$2 ;;
		--probe-args) probe_args=$2 ;;
		--probe-timeout) probe_timeout=$2 ;;
		--fault-spacing) fault_spacing=$2 ;;
		--root) root=${2%/} ;;
		esac
		shift 2
		;;
	-h | --help) usage ;;
	*) log "unknown argument '$1'"; usage ;;
	esac
done
[ -n "$out" ] || { log "--out FILE is required"; usage; }
case $probe_timeout$fault_spacing in *[!0-9]*)
	log "--probe-timeout and --fault-spacing take whole seconds"; usage ;;
esac

# A tool given by path, else next to this script, else on PATH; empty when none is found.
find_tool() {
	if [ -n "$2" ]; then
		[ -x "$2" ] && put "$2"
	elif [ -x "$here/$1" ]; then
		put "$here/$1"
	else
		command -v "$1" 2>/dev/null
	fi
}
hf=$(find_tool hostfacts "$hostfacts") || true
[ -n "$hf" ] || die "hostfacts not found${hostfacts:+ at $hostfacts} (build target hostfacts; --hostfacts PATH)"
vp=$(find_tool vfio_probe "$vfio_probe") || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/collect.XXXXXX") || die "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
: > "$tmp/errors"
: > "$tmp/probes"

jstr() { printf '%s' "$1" | "$hf" --json-string -; }
# A problem the report must show: one JSON string a line in $tmp/errors.
record_error() {
	log "$1"
	jstr "$1" >> "$tmp/errors"
}
# Centiseconds since boot.
now_cs() {
	read -r up _ < /proc/uptime
	put $((${up%.*} * 100 + 1${up#*.} - 100))
}

sys=$root/sys
pci=$sys/bus/pci

# Writes VALUE and a newline to a sysfs FILE; on failure returns 1 with the reason in $werr.
sysfs_write() {
	werr=
	if (printf '%s\n' "$2" > "$1") 2> "$tmp/werr"; then
		return 0
	fi
	werr=$(tr '\n' ' ' < "$tmp/werr")
	[ -n "$werr" ] || werr="writing '$2' to $1 failed"
	return 1
}
# The driver a device is bound to, or nothing.
driver_of() {
	d=$(readlink "$pci/devices/$1/driver" 2>/dev/null) || return 0
	put "${d##*/}"
}

# --- the host ---------------------------------------------------------------------------------
log "collecting $(uname -n) ($(uname -r))"
kernel=$(uname -r)
cmdline=
if [ -r /proc/cmdline ]; then
	read -r cmdline < /proc/cmdline
else
	record_error "cannot read /proc/cmdline"
fi

# The functions and groups before any binding (as the simulator records them).
if "$hf" --root "${root:-/}" --members > "$tmp/facts" 2> "$tmp/facts.err"; then
	:
else
	record_error "hostfacts exited $?: $(tr '\n' ' ' < "$tmp/facts.err")"
fi
{ echo '{'; cat "$tmp/facts"; echo '}'; } > "$tmp/facts.json"
if ! "$hf" --json-valid "$tmp/facts.json" 2> /dev/null; then
	record_error "hostfacts printed no usable devices/groups: $(head -c 400 "$tmp/facts" | tr '\n' ' ')"
	printf '  "devices": [],\n  "groups": {}\n' > "$tmp/facts"
fi

lspci_json=null
if command -v lspci > /dev/null 2>&1; then
	if lspci -vvv -nn > "$tmp/lspci" 2> "$tmp/lspci.err"; then
		lspci_json=$("$hf" --json-string "$tmp/lspci")
	else
		record_error "lspci -vvv -nn exited $?: $(head -c 400 "$tmp/lspci.err" | tr '\n' ' ')"
	fi
fi

# --- the devices to probe --------------------------------------------------------------------
case $devices in
auto)
	list=
	for d in "$pci"/devices/*; do
		[ -e "$d/vendor" ] || continue
		if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
			list="$list ${d##*/}"
		fi
	done
	;;
none) list= ;;
*)
	list=
	for b in $(put "$devices" | tr ',' ' '); do
		case $b in ????:??:??.?) ;; ??:??.?) b=0000:$b ;; *)
			record_error "--devices: '$b' is not a PCI address (DDDD:BB:DD.F)"; continue ;;
		esac
		if [ -e "$pci/devices/$b" ]; then
			list="$list $b"
		else
			record_error "device $b: no such PCI function ($pci/devices/$b)"
		fi
	done
	;;
esac
[ -n "$list" ] || [ "$devices" = none ] || record_error "no device to probe (--devices $devices)"
if [ -n "$list" ] && [ -z "$vp" ]; then
	record_error "vfio_probe not found${vfio_probe:+ at $vfio_probe} (build target vfio_probe; --vfio-probe PATH): no probes run"
	list=
fi

# Loads a driver's module when the driver is not registered; 0 when the driver is there after.
# modprobe first (the kernel's own drivers, or ours once installed); else DRIVER.ko from
# --module-dir with insmod, after modprobe of each module it depends on.
ensure_driver() {
	[ -d "$pci/drivers/$1" ] && return 0
	m=$(put "$1" | tr - _)
	why=
	if modprobe "$1" > "$tmp/mod.err" 2>&1; then
		[ -d "$pci/drivers/$1" ] && return 0
		why="modprobe $1 ran, but registered no PCI driver $1"
	else
		why="modprobe $1: $(tr '\n' ' ' < "$tmp/mod.err")"
	fi
	ko=
	for f in "$module_dir/$m.ko" "$module_dir/$1.ko" "$module_dir/$m/$m.ko"; do
		[ -n "$module_dir" ] && [ -f "$f" ] && { ko=$f; break; }
	done
	if [ -n "$ko" ]; then
		for dep in $(modinfo -F depends "$ko" 2> /dev/null | tr ',' ' '); do
			modprobe "$dep" > /dev/null 2>&1 || why="$why; modprobe $dep (a dependency of $ko) failed"
		done
		if insmod "$ko" > "$tmp/mod.err" 2>&1; then
			[ -d "$pci/drivers/$1" ] && return 0
			why="$why; insmod $ko ran, but registered no PCI driver $1"
		else
			why="$why; insmod $ko: $(tr '\n' ' ' < "$tmp/mod.err")"
		fi
	elif [ -n "$module_dir" ]; then
		why="$why; no $m.ko in $module_dir"
	fi
	driver_error="driver $1 is not available: $why"
	return 1
}

# Binds device $1 to driver $2 through driver_override; on failure, $bind_error says why.
bind_to() {
	bind_error=
	cur=$(driver_of "$1")
	if [ -n "$cur" ] && [ "$cur" != "$2" ]; then
		sysfs_write "$pci/devices/$1/driver/unbind" "$1" || { bind_error="unbind from $cur: $werr"; return 1; }
	fi
	sysfs_write "$pci/devices/$1/driver_override" "$2" || { bind_error="driver_override: $werr"; return 1; }
	if [ "$(driver_of "$1")" != "$2" ]; then
		sysfs_write "$pci/drivers_probe" "$1" || { bind_error="drivers_probe: $werr"; return 1; }
	fi
	cur=$(driver_of "$1")
	[ "$cur" = "$2" ] || { bind_error="drivers_probe left the device ${cur:+bound to $cur}${cur:-unbound}"; return 1; }
}

# Unbinds device $1 and clears its driver_override; records what fails.
release() {
	cur=$(driver_of "$1")
	if [ -n "$cur" ]; then
		sysfs_write "$pci/devices/$1/driver/unbind" "$1" || record_error "device $1: unbind from $cur: $werr"
	fi
	sysfs_write "$pci/devices/$1/driver_override" "" || record_error "device $1: clearing driver_override: $werr"
}

# Gives device $1 back to driver $2 (may be empty) with driver_override $3 ("(null)": none).
restore() {
	release "$1"
	[ "$3" = "(null)" ] || [ -z "$3" ] ||
		sysfs_write "$pci/devices/$1/driver_override" "$3" || record_error "device $1: restoring driver_override $3: $werr"
	[ -n "$2" ] || return 0
	sysfs_write "$pci/drivers/$2/bind" "$1" 2> /dev/null || sysfs_write "$pci/drivers_probe" "$1" || true
	now=$(driver_of "$1")
	[ "$now" = "$2" ] || record_error "device $1: could not give it back to $2 (now ${now:-unbound}): $werr"
}

# Runs vfio_probe on device $1 bound to driver $2; appends the probe's JSON object to $tmp/probes.
last_probe_end=
probe() {
	dev=$1 drv=$2
	head="{\"device\": $(jstr "$dev"), \"driver\": $(jstr "$drv")"
	if ! ensure_driver "$drv"; then
		record_probe "$head, \"exit\": null, \"error\": $(jstr "$driver_error")}"
		return
	fi
	if ! bind_to "$dev" "$drv"; then
		record_probe "$head, \"exit\": null, \"error\": $(jstr "bind to $drv: $bind_error")}"
		release "$dev"
		return
	fi
	if [ -n "$last_probe_end" ] && [ "$fault_spacing" -gt 0 ]; then
		wait_cs=$((last_probe_end + fault_spacing * 100 - $(now_cs)))
		if [ "$wait_cs" -gt 0 ]; then
			log "waiting $((wait_cs / 100)).$((wait_cs % 100 / 10)) s: the kernel rate-limits DMAR fault messages"
			sleep "$((wait_cs / 100)).$(printf '%02d' $((wait_cs % 100)))"
		fi
	fi
	start=$(now_cs)
	runner=
	command -v timeout > /dev/null 2>&1 && runner="timeout $probe_timeout"
	# shellcheck disable=SC2086 # probe_args are words
	$runner "$vp" $probe_args "$dev" > "$tmp/probe.out" 2> "$tmp/probe.err"
	rc=$?
	last_probe_end=$(now_cs)
	took=$((last_probe_end - start))
	log "$dev $drv: vfio_probe exited $rc in $((took / 100)).$((took % 100 / 10)) s"
	error=
	if "$hf" --json-valid "$tmp/probe.out" 2> /dev/null; then
		result=$(cat "$tmp/probe.out")
	else
		result=null
		error="vfio_probe's output is not JSON: $(head -c 2000 "$tmp/probe.out")"
	fi
	[ "$rc" -gt 2 ] && error="vfio_probe exited $rc (killed, or timed out after $probe_timeout s)${error:+; $error}"
	[ -s "$tmp/probe.err" ] && error="${error:+$error; }stderr: $(head -c 2000 "$tmp/probe.err")"
	entry="$head, \"exit\": $rc, \"result\": $result"
	[ -n "$error" ] && entry="$entry, \"error\": $(jstr "$error")"
	record_probe "$entry}"
	release "$dev"
}
nprobes=0
record_probe() {
	[ "$nprobes" -eq 0 ] || printf ',\n' >> "$tmp/probes"
	printf '%s' "$1" >> "$tmp/probes"
	nprobes=$((nprobes + 1))
}

for dev in $list; do
	orig_driver=$(driver_of "$dev")
	orig_override=$(cat "$pci/devices/$dev/driver_override" 2> /dev/null) || orig_override="(null)"
	for drv in $(put "$drivers" | tr ',' ' '); do
		probe "$dev" "$drv"
	done
	restore "$dev" "$orig_driver" "$orig_override"
done

# --- the kernel log, last: the probes' faults are in it too ------------------------------------
if dmesg > "$tmp/dmesg" 2> "$tmp/dmesg.err"; then
	grep -i dmar "$tmp/dmesg" > "$tmp/dmar"
	dmar_json=$("$hf" --json-lines "$tmp/dmar")
else
	record_error "dmesg exited $?: $(tr '\n' ' ' < "$tmp/dmesg.err")"
	dmar_json='[]'
fi

# --- the report --------------------------------------------------------------------------------
{
	echo '{'
	echo '  "schema": 1,'
	echo '  "source": "host",'
	put "  \"kernel\": $(jstr "$kernel"),"
	put "  \"cmdline\": $(jstr "$cmdline"),"
	put "  \"dmar\": $dmar_json,"
	sed '$s/$/,/' "$tmp/facts"
	echo '  "probes": ['
	cat "$tmp/probes"
	echo
	echo '  ],'
	if [ -s "$tmp/errors" ]; then
		put "  \"lspci\": $lspci_json,"
		echo '  "errors": ['
		sed '$!s/$/,/' "$tmp/errors"
		echo '  ]'
	else
		put "  \"lspci\": $lspci_json"
	fi
	echo '}'
} > "$tmp/report.json"
"$hf" --json-valid "$tmp/report.json" ||
	log "warning: the report is not well-formed JSON (a bug in collect.sh); writing it anyway"
if [ "$out" = - ]; then
	cat "$tmp/report.json"
else
	cp "$tmp/report.json" "$out" || die "cannot write $out"
	log "wrote $out"
fi
