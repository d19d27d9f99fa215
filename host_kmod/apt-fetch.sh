# Sourced by host_kmod/fetch-headers.sh and tests/hostval/fetch-image.sh (which define die()).
#
# apt_fetch WORK WHAT PACKAGE=VERSION...: `apt-get download`s the packages into WORK/debs and
# unpacks them with `dpkg -x` into WORK/root, without installing anything. On failure it prints
# apt's output and dies with the likely reason: a package missing from the sources, lists too old
# for the mirror, or no network. WHAT names the fetch in that message ("the headers are").
apt_fetch() {
  local work=$1 what=$2
  shift 2
  local apt_opts=()
  # apt drops root to its _apt user to download, which cannot write into a root-owned build tree
  [[ $EUID -eq 0 ]] && apt_opts=(-o APT::Sandbox::User=root)
  if ! (cd "$work/debs" && apt-get download "${apt_opts[@]}" "$@") > "$work/apt.log" 2>&1; then
    cat "$work/apt.log" >&2
    if grep -qE 'Unable to locate|Can.t select|has no installation candidate|not found' "$work/apt.log"; then
      die "a package is missing from the apt sources (above); run 'apt-get update' as root"
    elif grep -qE '404 +Not Found' "$work/apt.log"; then
      die "the mirror no longer has these versions: run 'apt-get update' as root, then fetch again"
    elif grep -qiE 'Temporary failure|Could not resolve|Could not connect|Failed to fetch|Network is unreachable|Connection (failed|timed out)' "$work/apt.log"; then
      die "cannot reach the Debian mirror (no network?): $what fetched once per build tree"
    fi
    die "apt-get download failed (above)"
  fi
  local deb
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
}
