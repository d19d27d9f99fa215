#!/bin/sh
# /init of the hostval guest (tests/hostval/make-initramfs.sh puts it in the initramfs): mounts the
# kernel's filesystems, loads the VFIO modules and ours, runs tools/hostval/collect.sh on every edu
# with both VFIO drivers, prints the report on the console between marker lines for
# tests/hostval/run-guest.sh, and powers the machine off. busybox ash.
#
# Kernel command line options (run-guest.sh passes them):
#   hostval.devices=auto|none|BDF,...    collect.sh --devices (default auto: every edu)
#   hostval.drivers=D1,D2                collect.sh --drivers (default vfio-pci,pciesim_vfio_pci)
#   hostval.fault_spacing=S              collect.sh --fault-spacing
#   hostval.probe_args=A,B               collect.sh --probe-args, commas for spaces
#   hostval.up_only=1                    print the "up" marker and power off (run-guest's KVM check)
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

say() { printf 'hostval-init: %s\n' "$*"; }
off() {
	sync
	poweroff -f
	sleep 5  # poweroff -f does not return; should it, the kernel panics on init's exit (panic=-1)
	exit 1
}

mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
read -r up _ < /proc/uptime
echo "=====PCIESIM-GUEST-UP===== $(uname -r) at ${up} s"

devices=auto
drivers=vfio-pci,pciesim_vfio_pci
fault_spacing=
probe_args=
# shellcheck disable=SC2013 # words, not lines
for w in $(cat /proc/cmdline); do
	case $w in
	hostval.devices=*) devices=${w#*=} ;;
	hostval.drivers=*) drivers=${w#*=} ;;
	hostval.fault_spacing=*) fault_spacing=${w#*=} ;;
	hostval.probe_args=*) probe_args=$(printf '%s' "${w#*=}" | tr ',' ' ') ;;
	hostval.up_only=1) off ;;
	esac
done

# The VFIO stack (vfio_iommu_type1 is only a soft dependency of vfio) and our variant driver;
# a failure shows on the console and again in the report, where collect.sh retries the driver.
for m in vfio_iommu_type1 vfio-pci pciesim_vfio_pci; do
	modprobe "$m" || say "modprobe $m failed"
done

set -- --out /tmp/report.json --devices "$devices" --drivers "$drivers" \
	--vfio-probe /bin/vfio_probe --hostfacts /bin/hostfacts
[ -n "$fault_spacing" ] && set -- "$@" --fault-spacing "$fault_spacing"
[ -n "$probe_args" ] && set -- "$@" --probe-args "$probe_args"
/bin/collect.sh "$@"
rc=$?
read -r up _ < /proc/uptime
say "collect.sh exited $rc at ${up} s"

# Only emergencies on the console from here: nothing may land between the marker lines.
dmesg -n 1
if [ -s /tmp/report.json ]; then
	echo "=====PCIESIM-HOST-REPORT-BEGIN====="
	cat /tmp/report.json
	echo "=====PCIESIM-HOST-REPORT-END====="
else
	say "collect.sh wrote no report"
fi
off
