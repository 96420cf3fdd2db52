package plan

import "testing"

func TestDrain(t *testing.T) {
	runPlanCases(t, []planCase{{
		name: "leadership leaves a draining node first, to the live voter with fewest leaderships",
		cluster: `
			node 1 draining
			node 2
			node 3
			node 4
			shard 1 voters=1,2,3 leader=1
			shard 2 voters=2,3,4 leader=2`,
		want: `transfer-leader 1 from=1 to=3`,
	}, {
		name: "a follower replica on a draining node moves to the emptiest live node",
		cluster: `
			node 1 draining
			node 2
			node 3
			node 4
			shard 1 voters=1,2,3 leader=2`,
		want: `move-replica 1 from=1 to=4`,
	}, {
		name: "no live voter to lead: the replica moves first",
		cluster: `
			node 1 draining
			node 2 draining
			node 3
			shard 1 voters=1,2 leader=1`,
		cfg:  Config{Replicas: 2},
		want: `move-replica 1 from=1 to=3`,
	}, {
		name: "no live node can take the replica: removed, the shard keeps all it can have",
		cluster: `
			node 1
			node 2
			node 3 draining
			shard 1 voters=1,2,3 leader=1`,
		want: `remove-replica 1 from=3`,
	}, {
		name: "no live node can take the replica, and removing it would lose the quorum: it stays",
		cluster: `
			node 1
			node 2 dead down=10s
			node 3 draining
			shard 1 voters=1,2,3 leader=1`,
		want: ``,
	}, {
		name: "the draining end counts against MaxMovesPerNode",
		cluster: `
			node 1 draining
			node 2
			node 3
			node 4
			node 5
			node 6
			shards 1-10 voters=1,2,3 leader=2`,
		want: `
			move-replica 1 from=1 to=4
			move-replica 2 from=1 to=5
			transfer-leader 3 from=2 to=3
			transfer-leader 4 from=2 to=3
			transfer-leader 5 from=2 to=3`,
	}})
}

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

func TestMoveLimits(t *testing.T) {
	const deadNode = `
		node 1
		node 2
		node 3
		node 4 dead down=2m
		node 5
		shards 1-6 voters=1,2,4
		`
	runPlanCases(t, []planCase{{
		name:    "per node, and a dead source does not count",
		cluster: deadNode,
		want: `
			move-replica 1 from=4 to=3
			move-replica 2 from=4 to=5
			move-replica 3 from=4 to=3
			move-replica 4 from=4 to=5`,
	}, {
		name:    "cluster-wide",
		cluster: deadNode,
		cfg:     Config{MaxMoves: 3},
		want: `
			move-replica 1 from=4 to=3
			move-replica 2 from=4 to=5
			move-replica 3 from=4 to=3`,
	}, {
		name: "moves in flight count",
		cluster: deadNode + `
			move 5 4 3
			move 6 4 3`,
		want: `
			move-replica 1 from=4 to=5
			move-replica 2 from=4 to=5`,
	}, {
		name: "moves in flight count cluster-wide; transfers are not moves",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			shards 1-6 voters=1,2,3 leader=1
			shard 7 voters=1,2 learners=4 leader=2
			move 7 0 4`,
		cfg: Config{MaxMoves: 1},
		want: `
			transfer-leader 1 from=1 to=3
			transfer-leader 2 from=1 to=2
			transfer-leader 3 from=1 to=3`,
	}})
}
