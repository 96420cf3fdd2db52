package raftgroup

import (
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Regression tests for bugs found by the simulator (raftgroup/rafttest).
// Each names the seed that found it.

// TestFullWindowOfLostAppendsRepaired: every MsgApp filling a follower's
// in-flight window is lost (no transport report). Heartbeat answers must
// restart replication; before the fix the full window paused the follower
// forever (rafttest seed 8).
func TestFullWindowOfLostAppendsRepaired(t *testing.T) {
	n := newNet(t, 1, 2, 3)
	n.elect(1)
	n.propose(1, "a")
	n.groups[1].trk.progress[2].inflights.maxCount = 2
	n.cut[[2]raftpb.NodeID{1, 2}] = true
	var last raftpb.Index
	for _, d := range []string{"b", "c", "d"} {
		last = n.propose(1, d)
	}
	if pr := n.groups[1].trk.progress[2]; !pr.inflights.full() {
		t.Fatalf("window to node 2 not full: %d in flight", pr.inflights.count)
	}
	n.heal()
	n.tick(1, 3)
	if got := n.groups[2].log.lastIndex(); got != last {
		t.Fatalf("node 2 holds up to %d after heartbeats, want %d", got, last)
	}
}
