#!/usr/bin/env bash
# One hostval guest test for ctest: boots the guest on a QEMU device list (run-guest.sh), then
# checks the report it sent back (hostval_check_report). Status 77 (skipped) when the guest cannot
# run here, with run-guest.sh's reason.
#
#   tests/hostval/guest-test.sh --qemu-devices FILE --work DIR --checker BIN [run-guest options]
#       -- [hostval_check_report options]
#
# DIR keeps the report (report.json) and the guest's console (console.log) for a look afterwards.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work='' checker=''
guest_args=()
while [[ $# -gt 0 && "$1" != -- ]]; do
  case $1 in
    --work) work=$2; shift 2 ;;
    --checker) checker=$2; shift 2 ;;
    *) guest_args+=("$1" "$2"); shift 2 ;;
  esac
done
[[ "${1:-}" == -- ]] && shift
[[ -n "$work" && -n "$checker" ]] || { echo "guest-test: --work and --checker are required" >&2; exit 2; }
mkdir -p "$work"
rm -f "$work/report.json"

bash "$here/run-guest.sh" "${guest_args[@]}" --out "$work/report.json" --console "$work/console.log"
status=$?
[[ $status -eq 0 ]] || exit "$status"   # 77: skipped, with the reason printed
"$checker" "$work/report.json" "$@"
