package plan

import "testing"

func TestBalanceReplicas(t *testing.T) {
	runPlanCases(t, []planCase{{
		name: "a new node takes replicas, within MaxMovesPerNode, preferring shards the source does not lead",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			shards 1-10 voters=1,2,3 leader=1
			shards 11-20 voters=1,2,3 leader=2
			shards 21-30 voters=1,2,3 leader=3`,
		want: `
			move-replica 11 from=1 to=4
			move-replica 1 from=2 to=4`,
	}, {
		name: "one over the band: one move, to the emptiest",
		cluster: `
			node 1
			node 2
			node 3
			shards 1-12 voters=1
			shards 13-21 voters=2
			shards 22-30 voters=3`,
		cfg:  Config{Replicas: 1},
		want: `move-replica 1 from=1 to=2`,
	}, {
		name: "inside the band (9..11 around 10): nothing",
		cluster: `
			node 1
			node 2
			node 3
			shards 1-11 voters=1
			shards 12-21 voters=2
			shards 22-30 voters=3`,
		cfg:  Config{Replicas: 1},
		want: ``,
	}, {
		name: "one under the band: one move, from the fullest",
		cluster: `
			node 1
			node 2
			node 3
			shards 1-11 voters=1
			shards 12-22 voters=2
			shards 23-30 voters=3`,
		cfg:  Config{Replicas: 1},
		want: `move-replica 1 from=1 to=3`,
	}, {
		name: "the smallest shard moves",
		cluster: `
			node 1
			node 2
			shard 1 voters=1 size=100
			shard 2 voters=1 size=50
			shard 3 voters=1 size=70`,
		cfg:  Config{Replicas: 1},
		want: `move-replica 2 from=1 to=2`,
	}, {
		name: "a shard with a voter on a node that is not live is not balanced",
		cluster: `
			node 1
			node 2
			node 3 suspect down=10s
			node 4
			shards 1-4 voters=1,2,3`,
		want: ``,
	}})
}

func TestBalanceLeaders(t *testing.T) {
	runPlanCases(t, []planCase{{
		name: "from the node with most to the voter with fewest, until inside the band (2..4)",
		cluster: `
			node 1
			node 2
			node 3
			shards 1-9 voters=1,2,3 leader=1`,
		want: `
			transfer-leader 1 from=1 to=2
			transfer-leader 2 from=1 to=3
			transfer-leader 3 from=1 to=2
			transfer-leader 4 from=1 to=3
			transfer-leader 5 from=1 to=2`,
	}, {
		name: "at most MaxLeaderTransfers",
		cluster: `
			node 1
			node 2
			node 3
			shards 1-9 voters=1,2,3 leader=1`,
		cfg: Config{MaxLeaderTransfers: 2},
		want: `
			transfer-leader 1 from=1 to=2
			transfer-leader 2 from=1 to=3`,
	}, {
		name: "inside the band: nothing",
		cluster: `
			node 1
			node 2
			node 3
			shards 1-4 voters=1,2,3 leader=1
			shards 5-7 voters=1,2,3 leader=2
			shards 8-9 voters=1,2,3 leader=3`,
		want: ``,
	}, {
		name: "leaders on nodes that are not live do not count, and none go there (band 1..3 around 2)",
		cluster: `
			node 1
			node 2
			node 3 dead down=10s
			shards 1-4 voters=1,2,3 leader=3
			shards 5-8 voters=1,2,3 leader=1`,
		want: `transfer-leader 5 from=1 to=2`,
	}})
}

func TestBalanceLoad(t *testing.T) {
	runPlanCases(t, []planCase{{
		name: "off by default",
		cluster: `
			node 1
			node 2
			shard 1 voters=1,2 leader=1 rps=1000
			shard 2 voters=1,2 leader=2 rps=100`,
		cfg:  Config{Replicas: 2},
		want: ``,
	}, {
		name: "a shard hotter than the gap stays; a cooler one moves",
		cluster: `
			node 1
			node 2
			shard 1 voters=1,2 leader=1 rps=1000
			shard 2 voters=1,2 leader=1 rps=100
			shard 3 voters=1,2 leader=2 rps=100
			shard 4 voters=1,2 leader=2 rps=100`,
		cfg:  Config{Replicas: 2, BalanceLoad: true},
		want: `transfer-leader 2 from=1 to=2`,
	}, {
		name: "within MinLoadGap of the mean: nothing, however far in percent",
		cluster: `
			node 1
			node 2
			shard 1 voters=1,2 leader=1 rps=10
			shard 2 voters=1,2 leader=1 rps=1
			shard 3 voters=1,2 leader=2 rps=1
			shard 4 voters=1,2 leader=2 rps=1`,
		cfg:  Config{Replicas: 2, BalanceLoad: true},
		want: ``,
	}, {
		name: "leader counts at the band's edge: hot and cold leaderships swap",
		cluster: `
			node 1
			node 2
			shards 1-10 voters=1,2 leader=1 rps=1000
			shards 11-20 voters=1,2 leader=2 rps=100`,
		cfg: Config{Replicas: 2, BalanceLoad: true, Tolerance: 0.05},
		want: `
			transfer-leader 1 from=1 to=2
			transfer-leader 2 from=1 to=2
			transfer-leader 11 from=2 to=1
			transfer-leader 3 from=1 to=2
			transfer-leader 12 from=2 to=1
			transfer-leader 4 from=1 to=2
			transfer-leader 13 from=2 to=1
			transfer-leader 5 from=1 to=2
			transfer-leader 14 from=2 to=1`,
	}})
}
