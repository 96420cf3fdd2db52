#!/usr/bin/env bash
# run.sh runs Flotilla's harness (go run ./bench) and this module's
# dragonboat harness on the same workloads, one after the other, ROUNDS
# times, swapping which system goes first in every other round, appends
# every JSON line to $OUT/results.jsonl, and prints the medians and ratios
# (dragonboat-bench -ratios).
#
#	OUT=/tmp/dragonboat-cmp ROUNDS=2 DURATION=15s bench/dragonboat/run.sh
#	STEPS="write:64:64:16 idle:1000" bench/dragonboat/run.sh
#
# A step is workload:groups[:clients[:size]]. Flotilla is built from the
# committed revision FLOTILLA_REV (default HEAD), exported with git
# archive, so that uncommitted edits in the checkout do not leak in.
# IDLE_QUIESCE=1 (the default) also runs dragonboat's idle steps with its
# Quiesce option on. DRAGONBOAT_FLAGS are added to every dragonboat run
# (for example "-exec-shards 16").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${OUT:-/tmp/dragonboat-cmp}
rounds=${ROUNDS:-2}
dur=${DURATION:-15s}
steps=${STEPS:-"write:1024:256:16 write:64:64:16 read:1024:256:16 idle:1000 idle:10000"}
rev=${FLOTILLA_REV:-HEAD}
quiesce=${IDLE_QUIESCE:-1}
mkdir -p "$out"
results="$out/results.jsonl"
log="$out/run.log"

src="$out/flotilla-src"
rm -rf "$src"
mkdir -p "$src"
git -C "$root" archive "$rev" | tar -x -C "$src"
echo "flotilla $(git -C "$root" rev-parse "$rev")" >>"$log"
(cd "$src" && go build -o "$out/flotilla-bench" ./bench)
(cd "$here" && go build -o "$out/dragonboat-bench" .)
rm -rf "$src"

stamp() { echo "== $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg): $*" | tee -a "$log" >&2; }

flotilla() { # workload groups clients size
	stamp "flotilla $*"
	"$out/flotilla-bench" -scenario "$1" -groups "$2" -clients "$3" -size "$4" -duration "$dur" >>"$results" 2>>"$log"
}
dragonboat() { # workload groups clients size [flags...]
	stamp "dragonboat $*"
	local w=$1 g=$2 c=$3 s=$4
	shift 4
	# shellcheck disable=SC2086
	"$out/dragonboat-bench" -scenario "$w" -groups "$g" -clients "$c" -size "$s" -duration "$dur" \
		-out "$results" ${DRAGONBOAT_FLAGS:-} "$@" >/dev/null 2>>"$log"
}

for r in $(seq "$rounds"); do
	for step in $steps; do
		IFS=: read -r w g c s <<<"$step"
		c=${c:-256}
		s=${s:-16}
		if [ $((r % 2)) -eq 1 ]; then
			flotilla "$w" "$g" "$c" "$s" || stamp "flotilla $step failed"
			dragonboat "$w" "$g" "$c" "$s" || stamp "dragonboat $step failed"
		else
			dragonboat "$w" "$g" "$c" "$s" || stamp "dragonboat $step failed"
			flotilla "$w" "$g" "$c" "$s" || stamp "flotilla $step failed"
		fi
		if [ "$w" = idle ] && [ "$quiesce" = 1 ]; then
			dragonboat "$w" "$g" "$c" "$s" -quiesce || stamp "dragonboat $step -quiesce failed"
		fi
	done
done
stamp done
"$out/dragonboat-bench" -ratios "$results"
