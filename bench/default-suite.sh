#!/usr/bin/env bash
# The default scenario suite's wall time (issue 8: <= 10 s on the project's 2-core machine; a
# figure measured here, never asserted in a test). Runs `pciesim run` (scenarios/library/) REPEAT
# times (default 5), prints each run's wall time, the best and the median, and the ratio of the
# median to the 10 s bar. Exits 1 if a run fails its scenarios or the median misses the bar.
#   bash bench/default-suite.sh [REPEAT] [-- extra pciesim run options, e.g. -j 2]
set -euo pipefail
cd "$(dirname "$0")/.."
sim=./build/pciesim
repeat=${1:-5}
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [REPEAT] [-- pciesim run options]" >&2; exit 2; }
shift $(( $# > 0 ? 1 : 0 ))
[ "${1:-}" = "--" ] && shift
[ -x "$sim" ] || { echo "$sim: not built (bash scripts/setup.sh)" >&2; exit 2; }
bar_s=10
times=()
for ((i = 1; i <= repeat; ++i)); do
  start=$(date +%s.%N)
  "$sim" run "$@" > /dev/null 2>&1 || { echo "run $i: the suite failed (see: $sim run)" >&2; exit 1; }
  end=$(date +%s.%N)
  t=$(echo "$end - $start" | bc -l)
  times+=("$t")
  printf 'run %d: %.3f s\n' "$i" "$t"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -g)
best=$(echo "$sorted" | head -1)
median=$(echo "$sorted" | sed -n "$(( (repeat + 1) / 2 ))p")
scenarios=$(ls scenarios/library/*.yaml | wc -l)
ratio=$(echo "$median / $bar_s" | bc -l)
printf 'default suite (%d scenarios): best %.3f s, median %.3f s, bar %d s, ratio %.3f %s\n' \
  "$scenarios" "$best" "$median" "$bar_s" "$ratio" "$(echo "$median <= $bar_s" | bc -l | sed 's/1/PASS/;s/0/OVER THE BAR/')"
[ "$(echo "$median <= $bar_s" | bc -l)" = 1 ]
