#!/usr/bin/env bash
# Makes the hostval guest (docs/hostval.md): an initramfs of busybox, the kernel's VFIO modules,
# our module, vfio_probe, hostfacts and collect.sh, whose /init (guest-init.sh) collects the host
# report and powers off; and next to it everything tests/hostval/run-guest.sh needs.
#
#   tests/hostval/make-initramfs.sh GUEST_DIR --image DIR --init FILE --collect FILE
#       --vfio-probe FILE --hostfacts FILE [--module KO]... [--lspci auto|off]
#
#   --image DIR    a release directory fetch-image.sh made (vmlinux, modules/, busybox, ...)
#   --module KO    a module of ours, installed as /lib/modules/RELEASE/extra/NAME.ko
#   --lspci        auto (default): add this machine's lspci (pciutils) with its libraries and
#                  pci.ids when it has them, so the report carries `lspci -vvv -nn`; off: do not
#
# GUEST_DIR then holds initramfs.cpio (uncompressed: the kernel unpacks it faster than it would
# decompress it under TCG), vmlinux (a link to the image's), release, hostfacts (run-guest.sh checks
# the report with it) and contents (what went into the initramfs).
set -euo pipefail

die() { echo "make-initramfs: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: $0 GUEST_DIR --image DIR --init FILE --collect FILE --vfio-probe FILE --hostfacts FILE [--module KO]... [--lspci auto|off]"
guest=$1
shift
image='' init='' collect='' vfio_probe='' hostfacts='' lspci=auto
modules=()
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || die "$1 needs a value"
  case $1 in
    --image) image=$2 ;;
    --init) init=$2 ;;
    --collect) collect=$2 ;;
    --vfio-probe) vfio_probe=$2 ;;
    --hostfacts) hostfacts=$2 ;;
    --module) modules+=("$2") ;;
    --lspci) lspci=$2 ;;
    *) die "unknown option $1" ;;
  esac
  shift 2
done
for f in "$image/vmlinux" "$image/busybox" "$image/modules/modules.order" "$init" "$collect" "$vfio_probe" "$hostfacts" ${modules[@]+"${modules[@]}"}; do
  [[ -f "$f" ]] || die "missing $f"
done
image=$(cd "$image" && pwd -P)
release=$(basename "$image")
[[ "$release" =~ ^6\.1\.0-[0-9]+-amd64$ ]] || die "$image is not a release directory of fetch-image.sh"
# Static binaries only: the initramfs has no C library (lspci, below, brings its own).
for f in "$vfio_probe" "$hostfacts" "$image/busybox"; do
  if readelf -l "$f" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    die "$f is dynamically linked (a sanitizer build?): the guest needs static binaries"
  fi
done

mkdir -p "$guest"
guest=$(cd "$guest" && pwd)
stage=$guest/.stage
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc} "$stage/lib/modules/$release/extra"

# busybox and its applets, at the paths busybox itself lists (bin/sh, sbin/modprobe, ...)
cp "$image/busybox" "$stage/bin/busybox"
while read -r applet; do
  [[ -e "$stage/$applet" ]] && continue
  mkdir -p "$stage/$(dirname "$applet")"
  ln -s /bin/busybox "$stage/$applet"
done < <("$stage/bin/busybox" --list-full)

install -m 0755 "$init" "$stage/init"
install -m 0755 "$collect" "$stage/bin/collect.sh"
install -m 0755 "$vfio_probe" "$stage/bin/vfio_probe"
install -m 0755 "$hostfacts" "$stage/bin/hostfacts"

# The kernel's VFIO modules and ours; the image package has no modules.dep: busybox depmod makes it
# here (the guest's modprobe reads the text files).
cp -a "$image/modules/." "$stage/lib/modules/$release/"
for ko in ${modules[@]+"${modules[@]}"}; do
  vermagic=$(modinfo -F vermagic "$ko" 2>/dev/null || "$stage/bin/busybox" modinfo -F vermagic "$ko")
  [[ "$vermagic" == "$release "* ]] ||
    die "$ko is built for '${vermagic%% *}', the image is $release: build the module and fetch the image from the same ABI"
  cp "$ko" "$stage/lib/modules/$release/extra/"
done
"$stage/bin/busybox" depmod -b "$stage" "$release"
dep=$stage/lib/modules/$release/modules.dep
for m in vfio vfio_iommu_type1 vfio-pci-core vfio-pci ${modules[@]+"${modules[@]##*/}"}; do
  grep -q "/${m%.ko}.ko:" "$dep" || die "depmod did not list ${m%.ko} in modules.dep"
done

# lspci -vvv -nn: pciutils' lspci is a dynamic program; it comes with the libraries ldd names
# (this machine's, a Debian 12 like the guest) and pci.ids.
if [[ "$lspci" == auto ]] && command -v lspci >/dev/null && command -v ldd >/dev/null; then
  lspci_bin=$(command -v lspci)
  libs=$(ldd "$lspci_bin" | awk '/=> \// {print $3} /^\t\// {print $1}')
  if [[ -n "$libs" ]]; then
    rm -f "$stage"/{bin,sbin,usr/bin,usr/sbin}/lspci  # a busybox applet, should a build have one
    install -m 0755 "$lspci_bin" "$stage/usr/bin/lspci"
    for lib in $libs; do
      mkdir -p "$stage$(dirname "$lib")"
      cp -L "$lib" "$stage$lib"
    done
    for ids in /usr/share/misc/pci.ids /usr/share/hwdata/pci.ids; do
      if [[ -f "$ids" ]]; then
        mkdir -p "$stage/usr/share/misc"
        cp "$ids" "$stage/usr/share/misc/pci.ids"
        break
      fi
    done
  fi
fi

cpio_tool=(cpio)
command -v cpio >/dev/null || cpio_tool=("$stage/bin/busybox" cpio)
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | "${cpio_tool[@]}" -o -H newc -R 0:0 2>/dev/null) > "$guest/initramfs.cpio.new"
mv "$guest/initramfs.cpio.new" "$guest/initramfs.cpio"
(cd "$stage" && find . -mindepth 1 ! -type d | LC_ALL=C sort) > "$guest/contents"
ln -sfn "$image/vmlinux" "$guest/vmlinux"
echo "$release" > "$guest/release"
install -m 0755 "$hostfacts" "$guest/hostfacts"
rm -rf "$stage"
echo "make-initramfs: $guest/initramfs.cpio ($(($(stat -c %s "$guest/initramfs.cpio") / 1024)) KiB) for $release"
