package placement

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// TestStaleRunOfAMove replays, one step at a time, the race that made
// TestMoveAwayAndBack loop until its deadline: a move of a shard
// finished, the next move of the shard recorded itself and added its
// learner, and a second run of the finished move (the driver resumes
// every recorded move it does not run itself, so an admin's move often
// had a twin) took that learner for its own lingering source and removed
// it; the next move added it back, and so on. The stale run must see
// that the shard's record is no longer its move's, change nothing, and
// leave the other move's record alone.
func TestStaleRunOfAMove(t *testing.T) {
	c := newTestCluster(t, 2, 1, func(o *Options) {
		o.DisableDriver = true // nothing runs a move but the test
	})
	t.Cleanup(c.close) // NB: before the data directories are removed
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := c.node(1)
	p := shardProgress(ctx, t, n, 1, func(p shard.Progress) bool { return len(p.Conf.Voters) == 2 && p.Leader != raftpb.None })
	// Shard 1 is left with one voter, its leader a: as if a move had just
	// taken it there from node b (finished; its record deleted).
	a := p.Leader
	b := raftpb.NodeID(3 - a)
	n = c.node(a) // (b will not know where shard 1 is)
	if _, err := n.store.ChangeReplicas(ctx, 1, p.Desc.Epoch, []raftpb.ConfChangeSingle{{Type: raftpb.RemoveNode, Node: b}}); err != nil {
		t.Fatal(err)
	}
	for {
		if _, found, err := n.reportedEpoch(ctx, b, 1); err == nil && !found {
			break // b applied its removal and dropped the replica
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node %d still hosts shard 1 after its removal", b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p = shardProgress(ctx, t, n, 1, func(p shard.Progress) bool { return len(p.Conf.Voters) == 1 })
	finished := Move{Shard: 1, Kind: MoveReplace, From: b, To: a, Reason: "finished", Started: time.Now().Add(-time.Second)}
	// The next move, adding b back, records itself and adds b as a
	// learner.
	next := Move{Shard: 1, Kind: MoveAdd, To: b, Reason: "next"}
	if err := n.recordMove(ctx, &next); err != nil {
		t.Fatal(err)
	}
	if err := n.store.PrepareReplicaOn(ctx, b, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := n.store.ChangeReplicas(ctx, 1, p.Desc.Epoch, []raftpb.ConfChangeSingle{{Type: raftpb.AddLearner, Node: b}}); err != nil {
		t.Fatal(err)
	}
	// The finished move's twin wakes up: its target a is a voter and its
	// source b "still" a member.
	err := n.execute(ctx, &finished, true, func(string) {})
	if !errors.Is(err, ErrMoveSuperseded) {
		t.Errorf("the stale run of the finished move returned %v, want %v", err, ErrMoveSuperseded)
	}
	p = shardProgress(ctx, t, n, 1, func(shard.Progress) bool { return true })
	if !slices.Equal(p.Conf.Voters, []raftpb.NodeID{a}) || !slices.Equal(p.Conf.Learners, []raftpb.NodeID{b}) {
		t.Errorf("after the stale run shard 1 is %v, want voters [%d] and the next move's learner %d", p.Conf, a, b)
	}
	tbl, err := readTable(ctx, n.store, shard.Linearizable)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := tbl.moves[1]; !ok || !slices.Equal(got.marshal(), next.marshal()) {
		t.Errorf("shard 1's move record is %+v (present %v), want the next move's %+v", got, ok, next)
	}
	// The next move finishes from there (and releases its record).
	if err := n.execute(ctx, &next, true, func(string) {}); err != nil {
		t.Fatalf("the next move: %v", err)
	}
	p = shardProgress(ctx, t, n, 1, func(shard.Progress) bool { return true })
	if len(p.Conf.Voters) != 2 || !slices.Contains(p.Conf.Voters, b) || len(p.Conf.Learners) > 0 {
		t.Errorf("after the next move shard 1 is %v, want voters %d and %d", p.Conf, a, b)
	}
	if tbl, err = readTable(ctx, n.store, shard.Linearizable); err != nil || len(tbl.moves) > 0 {
		t.Errorf("move records left after the next move: %+v (err %v)", tbl.moves, err)
	}
}

// shardProgress polls shard id's progress through n until ok holds.
func shardProgress(ctx context.Context, t *testing.T, n *Node, id shard.ShardID, ok func(shard.Progress) bool) shard.Progress {
	t.Helper()
	for {
		p, err := n.store.ShardProgress(ctx, id)
		if err == nil && !p.Joint && ok(p) {
			return p
		}
		select {
		case <-ctx.Done():
			t.Fatalf("shard %d: progress %+v, err %v: %v", id, p, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestMoveRecordRoundTrip: a resumed run rebuilds its Move from the record
// and proves it owns the record by re-encoding it (ownsMove), so decoding
// and encoding again must give the same bytes; otherwise every resumed
// move would stop at once as superseded and leave its record behind.
func TestMoveRecordRoundTrip(t *testing.T) {
	for _, m := range []Move{
		{Shard: 1, Kind: MoveReplace, From: 1, To: 4, Started: time.Unix(0, 1_765_000_000_123_456_789), Reason: "admin move"},
		{Shard: 7, Kind: MoveAdd, To: 2, Started: time.Now()},
		{Shard: 9, Kind: MoveSplit, SplitKey: []byte("k000500"), NewShard: 30, Started: time.Now(), Reason: "size"},
		{Shard: 3, Kind: MoveCollect, To: 5, Stage: "catch-up"}, // Stage is not recorded
	} {
		b := m.marshal()
		got, err := unmarshalMove(m.Shard, b)
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if !slices.Equal(got.marshal(), b) {
			t.Errorf("%+v: re-encoded as %x, recorded as %x", m, got.marshal(), b)
		}
	}
}
