#!/usr/bin/env bash
# Fetches what the hostval guest boots (docs/hostval.md): Debian 12's Linux 6.1 kernel image of the
# same ABI as the headers host_kmod/ built our module against (so the module's vermagic matches),
# and busybox-static; `apt-get download` + `dpkg -x` into DEST, no root, nothing installed.
#
#   tests/hostval/fetch-image.sh DEST RELEASE
#
#   RELEASE   6.1.0-N-amd64, or a file holding it (host_kmod's kernel-headers/release)
#
# DEST then holds, for each release fetched, DEST/RELEASE/ with
#   vmlinuz      the kernel as Debian ships it (a bzImage)
#   vmlinux      the ELF kernel decompressed from it: QEMU boots it directly through its PVH entry,
#                which saves the in-guest decompression (about 2 s under TCG)
#   config-RELEASE, System.map-RELEASE
#   modules/     lib/modules/RELEASE of the image, cut down to the VFIO modules and the index files
#   busybox      a static busybox (the busybox-static package's)
#   packages     the packages and versions unpacked
# and DEST/current -> RELEASE, DEST/fetched.stamp (touched on every successful run).
# A release already fetched is used as it is: no network. Delete DEST to fetch again.
set -euo pipefail

die() { echo "fetch-image: $*" >&2; exit 1; }

[[ $# -eq 2 && -n "$1" && -n "$2" ]] || die "usage: $0 DEST 6.1.0-N-amd64|RELEASE_FILE"
dest=$1
release=$2
if [[ -f "$release" ]]; then
  release=$(tr -d '[:space:]' < "$release")
fi
[[ "$release" =~ ^6\.1\.0-[0-9]+-amd64$ ]] || die "release '$release' is not of the form 6.1.0-N-amd64"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
final=$dest/$release

finish() {
  ln -sfn "$release" "$dest/current"
  touch "$dest/fetched.stamp"
}
if [[ -f "$final/packages" ]]; then
  finish
  exit 0
fi

for tool in apt-get apt-cache dpkg dpkg-deb od; do
  command -v "$tool" >/dev/null || die "needs $tool: the kernel image is a Debian package (a Debian 12 host)"
done

image=linux-image-$release
candidate() { apt-cache policy "$1" 2>/dev/null | sed -nE 's/^ *Candidate: ([^ ]+)$/\1/p' | grep -v '(none)' || true; }
iver=$(candidate "$image")
[[ -n "$iver" ]] || die "package $image is not offered by apt (apt-cache policy $image). It must be the
  ABI of the headers the module was built against; Debian keeps only the newest 6.1 ABI in
  bookworm-security: run 'apt-get update' as root, then delete the build tree's host_kmod/kernel-headers
  (the headers move to the newest ABI) and build again."
bver=$(candidate busybox-static)
[[ -n "$bver" ]] || die "package busybox-static is not offered by apt"

echo "fetch-image: fetching $image $iver and busybox-static $bver into $dest"
work=$(mktemp -d "$dest/.fetch-$release.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/debs" "$work/root" "$work/out"
source "$(dirname "${BASH_SOURCE[0]}")/../../host_kmod/apt-fetch.sh"
apt_fetch "$work" "the image is" "$image=$iver" "busybox-static=$bver"
root=$work/root
out=$work/out

cp "$root/boot/vmlinuz-$release" "$out/vmlinuz"
cp "$root/boot/config-$release" "$root/boot/System.map-$release" "$out/"
cp "$root/bin/busybox" "$out/busybox"
[[ "$(od -An -c -N4 "$out/busybox" | tr -d ' ')" == '177ELF' ]] || die "busybox-static's /bin/busybox is not an ELF file"

# The modules: the whole package unpacks to about 400 MB; keep the VFIO stack and the index files.
# busybox depmod writes modules.dep when the initramfs is made (the package has none).
mods=$root/lib/modules/$release
[[ -d "$mods/kernel" ]] || die "$image has no lib/modules/$release/kernel: the packaging changed"
mkdir -p "$out/modules"
cp "$mods"/modules.order "$mods"/modules.builtin "$mods"/modules.builtin.modinfo "$out/modules/"
(cd "$mods" && find kernel/drivers/vfio kernel/virt/lib -name '*.ko*' -exec cp --parents {} "$out/modules" \;)
for m in vfio vfio_virqfd irqbypass vfio_iommu_type1 vfio-pci-core vfio-pci; do
  [[ -n "$(find "$out/modules" -name "$m.ko*")" ]] || die "$image has no $m module (CONFIG_VFIO* changed?)"
done

# The ELF kernel inside the bzImage (Documentation/x86/boot.rst): the protected-mode code starts at
# (setup_sects + 1) * 512 (setup_sects 0 means 4); payload_offset (0x248) and payload_length (0x24c)
# locate the compressed vmlinux in it. Debian's 6.1 uses XZ (CONFIG_KERNEL_XZ); ZSTD and GZIP are
# handled too, should that change. busybox's xz cannot do it: the kernel's XZ uses the x86 BCJ filter.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$out/vmlinuz" | tr -d ' ')
((setup_sects)) || setup_sects=4
poff=$(le32 "$out/vmlinuz" $((0x248)))
plen=$(le32 "$out/vmlinuz" $((0x24c)))
start=$(((setup_sects + 1) * 512 + poff))
magic=$(od -An -tx1 -j "$start" -N6 "$out/vmlinuz" | tr -d ' \n')
dd if="$out/vmlinuz" of="$work/payload" bs=64K iflag=skip_bytes,count_bytes skip="$start" count="$plen" status=none
need() { command -v "$1" >/dev/null || die "needs $1 to decompress the kernel (Debian: apt-get install $2)"; }
case $magic in
  fd377a585a00*) need xz xz-utils; xz -dc --single-stream < "$work/payload" > "$out/vmlinux" ;;
  28b52ffd*) need zstd zstd; zstd -dc < "$work/payload" > "$out/vmlinux" ;;
  1f8b*) gzip -dc < "$work/payload" > "$out/vmlinux" ;;
  *) die "the bzImage's payload starts with $magic: not XZ, ZSTD or GZIP" ;;
esac
[[ "$(od -An -c -N4 "$out/vmlinux" | tr -d ' ')" == '177ELF' ]] || die "the decompressed kernel is not an ELF file"

for deb in "$work"/debs/*.deb; do
  # shellcheck disable=SC2016 # dpkg-deb's format, not the shell's
  dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb"
done | sort > "$out/packages"
rm -rf "$final"
mv "$out" "$final"
finish
echo "fetch-image: kernel $release ($(du -sh "$final/vmlinux" | cut -f1) vmlinux) ready in $final"
