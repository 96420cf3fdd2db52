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
