package plan

import "testing"

func TestRepair(t *testing.T) {
	runPlanCases(t, []planCase{{
		name: "voter on a node dead past the timeout moves to the empty node",
		cluster: `
			node 1
			node 2
			node 3 dead down=2m
			node 4
			shard 1 voters=1,2,3 leader=1`,
		want: `move-replica 1 from=3 to=4`,
	}, {
		name: "voter on a node dead for less than the timeout stays",
		cluster: `
			node 1
			node 2
			node 3 dead down=30s
			node 4
			shard 1 voters=1,2,3 leader=1`,
		want: ``,
	}, {
		name: "suspect past the timeout is replaced too",
		cluster: `
			node 1
			node 2
			node 3 suspect down=1m
			node 4
			shard 1 voters=1,2,3 leader=1`,
		want: `move-replica 1 from=3 to=4`,
	}, {
		name: "decommissioned is replaced at once",
		cluster: `
			node 1
			node 2
			node 3 decommissioned
			node 4
			shard 1 voters=1,2,3 leader=1`,
		want: `move-replica 1 from=3 to=4`,
	}, {
		name: "a node missing from the snapshot counts as lost",
		cluster: `
			node 1
			node 2
			node 4
			shard 1 voters=1,2,9 leader=1`,
		want: `move-replica 1 from=9 to=4`,
	}, {
		name: "under-replicated shard gains a voter on the node with most capacity among the emptiest",
		cluster: `
			node 1
			node 2
			node 3 cap=100
			node 4 cap=200
			node 5 cap=200
			shard 1 voters=1,2 leader=1`,
		want: `add-replica 1 to=4`,
	}, {
		name: "fewer replicas beats more capacity",
		cluster: `
			node 1
			node 2
			node 3 cap=100
			node 4 cap=200
			shard 1 voters=1,2 leader=1
			shard 2 voters=1,2,4 leader=2`,
		want: `add-replica 1 to=3`,
	}, {
		name: "no live node to replace a lost voter: removed, the shard keeps all it can have",
		cluster: `
			node 1
			node 2
			node 3 dead down=2m
			shard 1 voters=1,2,3 leader=1`,
		want: `remove-replica 1 from=3`,
	}, {
		name: "a shard without a quorum of up voters is left alone",
		cluster: `
			node 1
			node 2 dead down=2m
			node 3 dead down=2m
			node 4
			node 5
			shard 1 voters=1,2,3 leader=1`,
		want: ``,
	}, {
		name: "excess voter: one on a node that is not up goes first",
		cluster: `
			node 1
			node 2
			node 3
			node 4 suspect down=10s
			shard 1 voters=1,2,3,4 leader=1`,
		want: `remove-replica 1 from=4`,
	}, {
		name: "excess voter: then one on a draining node",
		cluster: `
			node 1
			node 2 draining
			node 3
			node 4
			shard 1 voters=1,2,3,4 leader=1`,
		want: `remove-replica 1 from=2`,
	}, {
		name: "excess voter: then a non-leader on the fullest node; later rules see the removal",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			shard 1 voters=1,2,3,4 leader=4
			shard 2 voters=2,3,4 leader=2
			shard 3 voters=1,2,3 leader=3
			shard 4 voters=1,3,4 leader=1`,
		want: `remove-replica 1 from=3`,
	}, {
		name: "excess voter: among equally full nodes, the lowest ID that does not lead",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			shard 1 voters=1,2,3,4 leader=1`,
		want: `remove-replica 1 from=2`,
	}, {
		name: "learner with no move in flight is removed",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			shard 1 voters=1,2,3 learners=4 leader=1`,
		want: `remove-replica 1 from=4`,
	}, {
		name: "shard with a move in flight gets nothing, and the move counts",
		cluster: `
			node 1
			node 2
			node 3 dead down=2m
			node 4
			node 5
			shard 1 voters=1,2,3 learners=4 leader=1
			shard 2 voters=1,2,3 leader=1
			move 1 3 4`,
		cfg:  Config{MaxMovesPerNode: 1},
		want: `move-replica 2 from=3 to=5`,
	}, {
		name: "most urgent first: fewer up voters against the target",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			node 5
			node 6 dead down=2m
			node 7 dead down=2m
			shard 1 voters=1,2,3,4,6 leader=1
			shard 2 voters=1,2,3,6,7 leader=2`,
		cfg:  Config{Replicas: 5, MaxMoves: 1},
		want: `move-replica 2 from=6 to=5`,
	}, {
		name: "meta shard first, whatever the urgency",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			node 5
			node 6 dead down=2m
			node 7 dead down=2m
			shard 0 voters=1,2,3,4 leader=1 meta
			shard 1 voters=1,2,3,6,7 leader=2`,
		cfg:  Config{Replicas: 5, MaxMoves: 1},
		want: `add-replica 0 to=5`,
	}, {
		name: "meta shard on min(MetaReplicas, live nodes)",
		cluster: `
			node 1
			node 2
			node 3
			node 4 dead down=10s
			shard 0 voters=1,2,3 leader=1 meta`,
		want: ``,
	}, {
		name: "meta shard drops a lost voter when every live node has one",
		cluster: `
			node 1
			node 2
			node 3
			node 4
			node 5 dead down=2m
			shard 0 voters=1,2,3,4,5 leader=1 meta`,
		want: `remove-replica 0 from=5`,
	}, {
		name: "lost voter of an over-replicated shard is removed, not moved",
		cluster: `
			node 1
			node 2
			node 3
			node 4 dead down=2m
			node 5
			shard 1 voters=1,2,3,4 leader=1`,
		want: `remove-replica 1 from=4`,
	}})
}
