package placement

import (
	"context"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// TestOrphanMoveRecordIsResumed writes a move record that no driver runs
// (as a move leaves behind when its final delete fails) while the meta
// leader stays the same. The driver must resume it (here it finds the
// move done) and drop the record: a record is its shard's lock, and one
// left behind kept every later move of the shard from starting, and
// Status reporting the move forever (regression: records were resumed
// only when a node became meta leader).
func TestOrphanMoveRecordIsResumed(t *testing.T) {
	c := newTestCluster(t, 3, 4, nil)
	t.Cleanup(c.close) // NB: before the data directories are removed
	st := c.waitFor(60*time.Second, "the initial layout", func(st Status) bool {
		return len(st.Shards) == 5 && balanced(st, []raftpb.NodeID{1, 2, 3}, 3)
	})
	leader := st.MetaLeader
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Node 9 was never a member: removing it is a move already done.
	orphan := Move{Shard: 2, Kind: MoveRemove, From: 9, Reason: "left behind", Started: time.Now()}
	if err := c.node(1).recordMove(ctx, &orphan); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		tbl, err := readTable(ctx, c.node(1).Store(), shard.Linearizable)
		if err == nil && len(tbl.moves) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphan record is still there after 30s: %+v (err %v)", tbl, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st = c.waitFor(10*time.Second, "a status", func(Status) bool { return true })
	if st.MetaLeader != leader {
		t.Logf("NB: the meta leader changed (%d to %d), which resumes records anyway", leader, st.MetaLeader)
	}
}
