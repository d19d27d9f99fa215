#!/usr/bin/env bash
# Fetches Debian 12's headers for its Linux 6.1 kernel (amd64 flavour) with `apt-get download` and
# unpacks them with `dpkg -x` under DEST, so that out-of-tree modules build against them without
# root and without installing anything (nothing under /usr or /lib changes).
#
#   host_kmod/fetch-headers.sh DEST [ABI]
#
#   ABI   6.1.0-N to fetch. Without it: the tree DEST already holds, else the newest
#         linux-headers-6.1.0-N-amd64 that apt-cache offers.
#
# DEST then holds one directory per ABI with the three packages unpacked into it, and
#   DEST/kdir      -> ABI/usr/src/linux-headers-ABI-amd64      make -C DEST/kdir M=<module dir> modules
#   DEST/release   the kernel release the modules are for (6.1.0-N-amd64: their vermagic)
#   DEST/packages  the packages and versions unpacked
#   DEST/fetched.stamp   touched on every successful run (the build's stamp)
# A tree that is present is used as it is: no network, no apt. Delete DEST (or name another ABI)
# to move to a newer kernel.
set -euo pipefail

die() { echo "fetch-headers: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 && -n "$1" ]] || die "usage: $0 DEST [6.1.0-N]"
dest=$1
abi=${2:-}
[[ -z "$abi" || "$abi" =~ ^6\.1\.0-[0-9]+$ ]] || die "ABI '$abi' is not of the form 6.1.0-N"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# Points DEST/kdir, DEST/release and DEST/packages at the unpacked tree for ABI $1.
select_tree() {
  local a=$1
  ln -sfn "$a/usr/src/linux-headers-$a-amd64" "$dest/kdir"
  echo "$a-amd64" > "$dest/release"
  cp "$dest/$a/packages" "$dest/packages"
  touch "$dest/fetched.stamp"
}

# A complete tree only ever exists under its final name (unpacked elsewhere, then renamed).
if [[ -z "$abi" && -f "$dest/release" ]]; then
  present=$(cat "$dest/release")
  present=${present%-amd64}
  if [[ -f "$dest/$present/packages" ]]; then
    select_tree "$present"
    exit 0
  fi
fi
if [[ -n "$abi" && -f "$dest/$abi/packages" ]]; then
  select_tree "$abi"
  exit 0
fi

for tool in apt-get apt-cache dpkg dpkg-deb; do
  command -v "$tool" >/dev/null || die "needs $tool: the headers are Debian packages (a Debian 12 host)"
done
[[ "$(dpkg --print-architecture)" == amd64 ]] ||
  die "needs an amd64 Debian host (this is $(dpkg --print-architecture)): the modules are built for Debian's amd64 kernel"

if [[ -z "$abi" ]]; then
  abi=$(apt-cache search --names-only '^linux-headers-6\.1\.0-[0-9]+-amd64$' |
        sed -nE 's/^linux-headers-(6\.1\.0-[0-9]+)-amd64 .*/\1/p' | sort -t- -k2,2n | tail -n1)
  [[ -n "$abi" ]] || die "apt-cache offers no linux-headers-6.1.0-N-amd64. On Debian 12 (bookworm, with
  bookworm-security in the apt sources) run 'apt-get update' as root first: before it the package
  lists may be empty or old."
fi

headers=linux-headers-$abi-amd64
common=linux-headers-$abi-common
# The version apt would fetch, or nothing when apt does not know the package.
candidate() { apt-cache policy "$1" 2>/dev/null | sed -nE 's/^ *Candidate: ([^ ]+)$/\1/p' | grep -v '(none)' || true; }
hver=$(candidate "$headers")
[[ -n "$hver" ]] || die "package $headers is not offered by apt (apt-cache policy $headers). Debian keeps only
  the newest 6.1 ABI in bookworm-security: fetch without an ABI to get the newest, or run 'apt-get update'."
[[ "$(candidate "$common")" == "$hver" ]] || die "$common $hver is not offered by apt next to $headers"
# linux-headers-*-amd64 depends on linux-kbuild-6.1 (>= its version): take that exact version when
# it is offered, else the candidate, which satisfies the dependency.
kver=$hver
if ! apt-cache madison linux-kbuild-6.1 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qxF "$hver"; then
  kver=$(candidate linux-kbuild-6.1)
  [[ -n "$kver" ]] || die "package linux-kbuild-6.1 is not offered by apt"
  dpkg --compare-versions "$kver" ge "$hver" ||
    die "linux-kbuild-6.1 $kver is older than $headers $hver needs"
fi

echo "fetch-headers: fetching $headers $hver, $common $hver, linux-kbuild-6.1 $kver into $dest"
work=$(mktemp -d "$dest/.fetch-$abi.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/debs" "$work/root"
source "$(dirname "${BASH_SOURCE[0]}")/apt-fetch.sh"
apt_fetch "$work" "the headers are" "$headers=$hver" "$common=$hver" "linux-kbuild-6.1=$kver"
root=$work/root
final=$dest/$abi
kdir=$root/usr/src/$headers

# The amd64 tree's Makefile includes the common tree by its installed path: point it at ours.
mk=$kdir/Makefile
grep -q "^include /usr/src/$common/Makefile\$" "$mk" ||
  die "$mk does not include /usr/src/$common/Makefile as expected: the packaging changed"
sed -i "s|^include /usr/src/$common/Makefile\$|include $final/usr/src/$common/Makefile|" "$mk"

# Absolute symlinks (lib/modules/<release>/build and source) point at the installed paths:
# repoint each into this tree, relatively, so the tree never reaches outside itself.
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  [[ "$target" == /* ]] || continue
  ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$root$target")" "$link"
done < <(find "$root" -type l -print0)

# scripts/ and tools/ of both trees are the kbuild package's (usr/lib/linux-kbuild-6.1): check
# that they resolve inside this tree and that the prebuilt tools are there.
for t in "$kdir" "$root/usr/src/$common"; do
  for d in scripts tools; do
    r=$(readlink -f "$t/$d") || true
    [[ "$r" == "$root"/usr/lib/linux-kbuild-6.1/* ]] || die "$t/$d resolves to '$r', not into the unpacked linux-kbuild-6.1"
  done
done
for tool in scripts/basic/fixdep scripts/mod/modpost tools/objtool/objtool; do
  [[ -x "$kdir/$tool" ]] || die "$kdir/$tool is missing: linux-kbuild-6.1 did not unpack as expected"
done
[[ "$(readlink -f "$root/lib/modules/$abi-amd64/build")" == "$kdir" ]] ||
  die "lib/modules/$abi-amd64/build does not point into the unpacked tree"
# The modules' vermagic starts with UTS_RELEASE (include/config/kernel.release says 6.1.x).
release=$(sed -nE 's/^#define UTS_RELEASE "(.*)"$/\1/p' "$kdir/include/generated/utsrelease.h")
[[ "$release" == "$abi-amd64" ]] || die "$headers says its UTS_RELEASE is '$release', not $abi-amd64"

for deb in "$work"/debs/*.deb; do
  dpkg-deb --show --showformat='${Package} ${Version}\n' "$deb"
done | sort > "$root/packages"
rm -rf "$final"
mv "$root" "$final"
select_tree "$abi"
echo "fetch-headers: kernel $release headers ready in $dest/kdir"
