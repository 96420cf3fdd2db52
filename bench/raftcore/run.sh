#!/usr/bin/env bash
# run.sh measures the Raft core benchmark the way docs/benchmarks.md
# reports it: COUNT rounds, each running this module's benchmark (raftgroup
# beside the newest etcd raft) and then the etcd36 module's (raftgroup
# beside etcd raft v3.6.0), so that every figure is paired with one taken
# moments apart; then ratios.awk prints the median of the paired ratios and
# benchstat puts the libraries side by side.
#
#	COUNT=10 BENCHTIME=1s OUT=/tmp/raftcore-bench bench/raftcore/run.sh
set -euo pipefail
cd "$(dirname "$0")"
count=${COUNT:-10}
benchtime=${BENCHTIME:-1s}
out=${OUT:-/tmp/raftcore-bench}
mkdir -p "$out"
go test -c -o "$out/raftcore.test" .
(cd etcd36 && go test -c -o "$out/etcd36.test" .)
: >"$out/etcd.txt"
: >"$out/etcd36.txt"
for i in $(seq "$count"); do
	echo "round $i/$count" >&2
	"$out/raftcore.test" -test.run '^$' -test.bench Propose -test.benchmem -test.benchtime="$benchtime" >>"$out/etcd.txt"
	"$out/etcd36.test" -test.run '^$' -test.bench Propose -test.benchmem -test.benchtime="$benchtime" >>"$out/etcd36.txt"
done
benchstat() { go run golang.org/x/perf/cmd/benchstat@latest "$@"; }
echo "### paired ratios"
awk -f ratios.awk "$out/etcd.txt"
awk -f ratios.awk "$out/etcd36.txt" | tail -n +2
echo "### raftgroup vs go.etcd.io/raft/v3 (newest)"
benchstat -col /impl "$out/etcd.txt"
echo "### raftgroup vs go.etcd.io/raft/v3 v3.6.0"
benchstat -col /impl "$out/etcd36.txt"
