package shard

import (
	"context"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestLeaseHeartbeatsKeepToTheTick: with lease reads on and every shard
// ticking (quiescence off), a cluster that serves no reads sends its
// heartbeats only with the ticker's flush: no frame goes early for a read
// round (a periodic heartbeat that started a new read round would look
// like a waiting read to shard/readflush.go and double the frames), and
// at most one heartbeat frame per peer per tick leaves each node.
func TestLeaseHeartbeatsKeepToTheTick(t *testing.T) {
	const shards = 8
	// 50 ms ticks rather than the test clusters' 10 ms: a leader change
	// in the window (a new term is news to a follower, and its answer goes
	// early) is then unlikely even on a loaded machine.
	c := newTCPCluster(t, 3, shards, 31, func(_ raftpb.NodeID, o *Options) {
		o.LeaseReads, o.DisableQuiesce = true, true
		o.TickInterval = 50 * time.Millisecond
	})
	c.putAll(shards, "v")
	for i := range shards {
		key := []byte(shardKey(i, shards))
		if err := c.do(key, func(s *Store) error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _, err := s.Get(ctx, key, Lease)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	take := func() map[raftpb.NodeID]sample {
		out := map[raftpb.NodeID]sample{}
		for id, s := range c.stores {
			tm, ok := s.TransportMetrics()
			if !ok {
				t.Fatalf("node %d has no transport metrics", id)
			}
			out[id] = sample{s.Metrics().Ticks, tm.HeartbeatFramesSent, tm.ReadHeartbeatFramesSent}
		}
		return out
	}
	// The reads' rounds end when a quorum has answered; the last
	// follower's answer (which goes early) may come a tick later. Let
	// every node tick a few times before the window starts.
	waitTicks(t, c, take(), 3)
	before := take()
	const window = 40
	waitTicks(t, c, before, window)
	after := take()
	for id := range c.stores {
		b, a := before[id], after[id]
		ticks, frames, early := a.ticks-b.ticks, a.frames-b.frames, a.readFrames-b.readFrames
		if early != 0 {
			t.Errorf("node %d: %d heartbeat frames flushed early for reads in %d ticks without reads", id, early, ticks)
		}
		// Two peers; one more tick may have flushed between the samples.
		if limit := 2 * (ticks + 1); frames > limit {
			t.Errorf("node %d: %d heartbeat frames in %d ticks, above one per peer per tick (%d)", id, frames, ticks, limit)
		}
		t.Logf("node %d: %d ticks, %d heartbeat frames, %d early", id, ticks, frames, early)
	}
}

type sample struct{ ticks, frames, readFrames uint64 }

// waitTicks waits until every node of c has ticked n times since from.
func waitTicks(t *testing.T, c *testCluster, from map[raftpb.NodeID]sample, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for id, s := range c.stores {
		for s.Metrics().Ticks < from[id].ticks+n {
			if time.Now().After(deadline) {
				t.Fatalf("node %d ticked %d times in 30 s, want %d", id, s.Metrics().Ticks-from[id].ticks, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
