package plan

import "testing"

func TestSplit(t *testing.T) {
	runPlanCases(t, []planCase{{
		name: "size: furthest past the threshold first; the meta shard never",
		cluster: `
			node 1
			node 2
			node 3
			shard 0 voters=1,2,3 leader=1 size=1000 meta
			shard 1 voters=1,2,3 leader=2 size=150
			shard 2 voters=1,2,3 leader=3 size=300
			shard 3 voters=1,2,3 leader=1 size=50`,
		cfg: Config{SplitSizeBytes: 100},
		want: `
			split 2
			split 1`,
	}, {
		name: "request rate",
		cluster: `
			node 1
			node 2
			node 3
			shard 1 voters=1,2,3 leader=1 rps=20
			shard 2 voters=1,2,3 leader=2 rps=5
			shard 3 voters=1,2,3 leader=3 rps=10`,
		cfg: Config{SplitRequestsPerSec: 10},
		want: `
			split 1
			split 3`,
	}, {
		name: "at most MaxSplits",
		cluster: `
			node 1
			node 2
			node 3
			shard 1 voters=1,2,3 leader=1 size=150
			shard 2 voters=1,2,3 leader=2 size=300
			shard 3 voters=1,2,3 leader=3 size=200`,
		cfg:  Config{SplitSizeBytes: 100, MaxSplits: 1},
		want: `split 2`,
	}, {
		name: "no thresholds, no splits",
		cluster: `
			node 1
			node 2
			node 3
			shard 1 voters=1,2,3 leader=1 size=1000000 rps=1e9`,
		want: ``,
	}, {
		name: "a shard being repaired is not split in the same call",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			shard 1 voters=1,2 leader=1 size=1000`,
		cfg:  Config{SplitSizeBytes: 100},
		want: `add-replica 1 to=3`,
	}})
}
