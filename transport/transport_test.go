package transport

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func TestSendReceiveLoopback(t *testing.T) {
	c := newCluster(t, 2, nil)
	a, rb := c.nodes[1], c.recs[2]
	const n = 500
	for i := 0; i < n; i++ {
		a.Send(msgApp(raftpb.GroupID(i%7), 1, 2, raftpb.Index(i), 100))
	}
	waitFor(t, "all messages", 10*time.Second, func() bool { return rb.count() == n })
	// fastrpc may reorder frames (see doc.go); check content, by index.
	got := rb.messages()
	slices.SortFunc(got, func(a, b raftpb.Message) int { return int(a.Index) - int(b.Index) })
	for i, m := range got {
		want := msgApp(raftpb.GroupID(i%7), 1, 2, raftpb.Index(i), 100)
		if describe(m) != describe(want) {
			t.Fatalf("message %d:\n got %s\nwant %s", i, describe(m), describe(want))
		}
	}
	st := a.Status()
	if len(st) != 1 || !st[0].Connected || st[0].Node != 2 || st[0].MessagesSent != n {
		t.Fatalf("status %+v", st)
	}
	if m := a.Metrics(); m.FramesSent >= n || m.MessagesSent != n {
		t.Fatalf("metrics %+v: want fewer frames than messages", m)
	}
}

// TestFrameSplitAndOversizedDrop: a batch larger than MaxFrameBytes is
// split over several frames; a message that cannot fit in
// any frame is dropped and counted; the caller may reuse its messages as
// soon as Send returns.
func TestFrameSplitAndOversizedDrop(t *testing.T) {
	c := newCluster(t, 2, func(o *Options) { o.MaxFrameBytes = 4096 })
	a, rb := c.nodes[1], c.recs[2]
	var batch []raftpb.Message
	for i := 0; i < 20; i++ {
		batch = append(batch, msgApp(1, 1, 2, raftpb.Index(i), 1000))
	}
	batch = append(batch, msgApp(1, 1, 2, 99, 5000)) // too large for any frame
	a.Send(batch...)
	for i := range batch {
		batch[i].Entries[0].Data[0] ^= 0xff // reuse at once: must not matter
	}
	waitFor(t, "20 messages", 10*time.Second, func() bool { return rb.count() == 20 })
	got := rb.messages()
	slices.SortFunc(got, func(a, b raftpb.Message) int { return int(a.Index) - int(b.Index) })
	for i, m := range got {
		if want := msgApp(1, 1, 2, raftpb.Index(i), 1000); describe(m) != describe(want) {
			t.Fatalf("message %d: got %s", i, describe(m))
		}
	}
	if m := a.Metrics(); m.MessagesDropped != 1 || m.FramesSent < 5 {
		t.Fatalf("metrics %+v: want 1 dropped, >= 5 frames", m)
	}
}

// TestReceiveBuffersNeverOverwriteKeptData: the receiver reuses a frame's
// buffer (and each connection's message slice) only when nothing handed to
// the Handler points into it. Frames alternate between entry-carrying
// MsgApps, whose data the recorder keeps, and entry-less MsgAppResps and
// heartbeats, whose buffers are reused; at the end every kept entry must
// still hold the bytes it was sent with, and the entry-less messages must
// be intact too.
func TestReceiveBuffersNeverOverwriteKeptData(t *testing.T) {
	c := newCluster(t, 2, nil)
	a, rb := c.nodes[1], c.recs[2]
	const rounds = 60
	want := 0
	for i := 0; i < rounds; i++ {
		if i%2 == 0 {
			a.Send(msgApp(raftpb.GroupID(i), 1, 2, raftpb.Index(i), 50+i))
			want++
		} else {
			// Enough entry-less messages that the frame covers the bytes
			// of the previous MsgApp's data if it reused that buffer.
			for k := 0; k < 30; k++ {
				a.Send(raftpb.Message{Type: raftpb.MsgAppResp, Group: raftpb.GroupID(i), To: 2, Term: 3, Index: raftpb.Index(i)})
			}
			a.Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(i), To: 2, Term: 3, Commit: raftpb.Index(i)})
			a.FlushHeartbeats()
			want += 31
		}
		// One frame at a time, so that consecutive frames reuse buffers.
		waitFor(t, fmt.Sprintf("round %d", i), 10*time.Second, func() bool { return rb.count() == want })
	}
	for _, m := range rb.messages() {
		i := int(m.Group)
		var w raftpb.Message
		switch m.Type {
		case raftpb.MsgApp:
			w = msgApp(raftpb.GroupID(i), 1, 2, raftpb.Index(i), 50+i)
		case raftpb.MsgAppResp:
			w = raftpb.Message{Type: raftpb.MsgAppResp, Group: raftpb.GroupID(i), From: 1, To: 2, Term: 3, Index: raftpb.Index(i)}
		default:
			w = raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(i), From: 1, To: 2, Term: 3, Commit: raftpb.Index(i)}
		}
		if describe(m) != describe(w) {
			t.Fatalf("kept message changed:\n got %s\nwant %s", describe(m), describe(w))
		}
	}
}
