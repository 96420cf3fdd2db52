package transport

import (
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestMemNetworkBoundsEachLink: a link holds at most
// DefaultMaxQueuedMessages Raft messages in flight, as the TCP transport
// queues at most that many per peer. With no Advance, the messages past
// the bound are dropped (the newest, as the TCP transport drops what
// finds the queue full) and counted in Dropped; exactly the bound is
// delivered, in order. The bound is per (from, to) link: other links,
// and the reverse direction, still take messages, and delivery frees
// room.
func TestMemNetworkBoundsEachLink(t *testing.T) {
	const over = 100
	n := NewMemNetwork(testSeed(t), Faults{})
	r2, r3 := newRecorder(), newRecorder()
	a := n.Add(1, newRecorder())
	b := n.Add(2, r2)
	n.Add(3, r3)
	for i := range DefaultMaxQueuedMessages + over {
		a.Send(raftpb.Message{Type: raftpb.MsgApp, Group: 1, To: 2, Term: 1, Index: raftpb.Index(i)})
	}
	for i := range 10 { // other links are not full
		a.Send(raftpb.Message{Type: raftpb.MsgApp, Group: 1, To: 3, Term: 1, Index: raftpb.Index(i)})
		b.Send(raftpb.Message{Type: raftpb.MsgAppResp, Group: 1, To: 1, Term: 1, Index: raftpb.Index(i)})
	}
	if m, h := n.InFlight(1, 2); m != DefaultMaxQueuedMessages || h != 0 {
		t.Fatalf("link 1->2 holds %d messages and %d heartbeats, want %d and 0", m, h, DefaultMaxQueuedMessages)
	}
	if m, _ := n.InFlight(1, 3); m != 10 {
		t.Fatalf("link 1->3 holds %d messages, want 10", m)
	}
	if m, _ := n.InFlight(2, 1); m != 10 {
		t.Fatalf("link 2->1 holds %d messages, want 10", m)
	}
	if st := n.Stats(); st.Dropped != over || st.QueueFull != over || st.Sent != DefaultMaxQueuedMessages+over+20 {
		t.Fatalf("stats %+v: want %d dropped (all for a full queue) of %d sent", st, over, DefaultMaxQueuedMessages+over+20)
	}
	n.Drain(time.Millisecond, 10)
	if n.Pending() != 0 {
		t.Fatalf("%d deliveries still pending after Drain", n.Pending())
	}
	got := r2.messages()
	if len(got) != DefaultMaxQueuedMessages {
		t.Fatalf("node 2 got %d messages, want exactly the bound %d", len(got), DefaultMaxQueuedMessages)
	}
	for i, m := range got {
		if m.Index != raftpb.Index(i) {
			t.Fatalf("delivery %d has index %d: the first %d sent must arrive, in order", i, m.Index, DefaultMaxQueuedMessages)
		}
	}
	if r3.count() != 10 {
		t.Fatalf("node 3 got %d messages, want 10", r3.count())
	}
	if m, h := n.InFlight(1, 2); m != 0 || h != 0 {
		t.Fatalf("link 1->2 holds %d messages and %d heartbeats after delivery", m, h)
	}
	// Delivery made room again.
	a.Send(raftpb.Message{Type: raftpb.MsgApp, Group: 1, To: 2, Term: 1, Index: 1 << 20})
	n.Advance(time.Millisecond)
	if got := r2.messages(); len(got) != DefaultMaxQueuedMessages+1 || got[len(got)-1].Index != 1<<20 {
		t.Fatalf("node 2 got %d messages after the link drained, want %d", len(got), DefaultMaxQueuedMessages+1)
	}
	if st := n.Stats(); st.Dropped != over || st.Delivered != DefaultMaxQueuedMessages+21 {
		t.Fatalf("stats %+v after delivery: want %d dropped, %d delivered", st, over, DefaultMaxQueuedMessages+21)
	}
}

// TestMemNetworkBoundsHeartbeats: coalesced heartbeats have their own
// bound per link, DefaultMaxQueuedHeartbeats in flight, which they do not
// share with Raft messages: a frame that would pass it delivers what fits
// and the rest is dropped and counted. A heartbeat of a new group that
// finds the sender's buffer full (DefaultMaxQueuedHeartbeats distinct
// groups queued since the last flush) is dropped and counted too.
func TestMemNetworkBoundsHeartbeats(t *testing.T) {
	const groups = 1000
	frames := DefaultMaxQueuedHeartbeats/groups + 1
	over := frames*groups - DefaultMaxQueuedHeartbeats
	n := NewMemNetwork(testSeed(t), Faults{})
	r2 := newRecorder()
	a := n.Add(1, newRecorder())
	n.Add(2, r2)
	for range frames {
		for g := range groups {
			a.Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(g), To: 2, Term: 1})
		}
		a.FlushHeartbeats()
	}
	a.Send(raftpb.Message{Type: raftpb.MsgApp, Group: 1, To: 2, Term: 1}) // its own bound
	if m, h := n.InFlight(1, 2); m != 1 || h != DefaultMaxQueuedHeartbeats {
		t.Fatalf("link 1->2 holds %d messages and %d heartbeats, want 1 and %d", m, h, DefaultMaxQueuedHeartbeats)
	}
	if st := n.Stats(); st.Dropped != uint64(over) || st.QueueFull != uint64(over) {
		t.Fatalf("stats %+v: want %d heartbeats dropped for a full link", st, over)
	}
	n.Drain(time.Millisecond, 10)
	if got := r2.count(); got != DefaultMaxQueuedHeartbeats+1 {
		t.Fatalf("node 2 got %d messages, want %d heartbeats and 1 MsgApp", got, DefaultMaxQueuedHeartbeats)
	}

	// The sender's buffer: one group more than it holds, before a flush.
	for g := range DefaultMaxQueuedHeartbeats + 1 {
		a.Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(g), To: 2, Term: 2})
	}
	if st := n.Stats(); st.Dropped != uint64(over+1) || st.QueueFull != uint64(over+1) {
		t.Fatalf("stats %+v: want the heartbeat past a full buffer dropped and counted", st)
	}
	a.FlushHeartbeats()
	n.Drain(time.Millisecond, 10)
	if got := r2.count(); got != 2*DefaultMaxQueuedHeartbeats+1 {
		t.Fatalf("node 2 got %d messages, want %d", got, 2*DefaultMaxQueuedHeartbeats+1)
	}
}
