package transport

import (
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
	// One connection keeps order within a peer; check content and order.
	got := rb.messages()
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
