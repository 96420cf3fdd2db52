package plan

import "testing"

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
