package transport

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// traceHandler records deliveries with the virtual time they happened at.
type traceHandler struct {
	n     *MemNetwork
	id    raftpb.NodeID
	trace *[]string
	reply *MemTransport // if set, answers every MsgApp with a MsgAppResp
	recorder
}

func (h *traceHandler) HandleMessages(batch []raftpb.Message) {
	for _, m := range batch {
		*h.trace = append(*h.trace, fmt.Sprintf("%v %d<-%d %s g%d i%d", h.n.Now(), m.To, m.From, m.Type, m.Group, m.Index))
		if h.reply != nil && m.Type == raftpb.MsgApp {
			h.reply.Send(raftpb.Message{Type: raftpb.MsgAppResp, Group: m.Group, To: m.From, Term: m.Term, Index: m.Index})
		}
	}
	h.recorder.HandleMessages(batch)
}

// runMem drives a 3-node ping-pong workload under faults and returns the
// delivery trace.
func runMem(seed uint64, f Faults) ([]string, MemStats) {
	n := NewMemNetwork(seed, f)
	var trace []string
	ts := map[raftpb.NodeID]*MemTransport{}
	for id := raftpb.NodeID(1); id <= 3; id++ {
		h := &traceHandler{n: n, id: id, trace: &trace}
		ts[id] = n.Add(id, h)
		h.reply = ts[id]
	}
	for step := 0; step < 50; step++ {
		for id := raftpb.NodeID(1); id <= 3; id++ {
			to := id%3 + 1
			ts[id].Send(raftpb.Message{Type: raftpb.MsgApp, Group: raftpb.GroupID(step % 4), To: to, Term: 1, Index: raftpb.Index(step)})
			ts[id].Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: 1, To: to, Term: 1})
			ts[id].FlushHeartbeats()
		}
		n.Advance(time.Millisecond)
	}
	n.Drain(time.Millisecond, 1000)
	return trace, n.Stats()
}

func TestMemNetworkDeterministic(t *testing.T) {
	seed := testSeed(t)
	f := Faults{DropRate: 0.1, DuplicateRate: 0.1, MinDelay: 100 * time.Microsecond, MaxDelay: 3 * time.Millisecond, ReorderRate: 0.2, ReorderWindow: 5 * time.Millisecond}
	a, sa := runMem(seed, f)
	b, sb := runMem(seed, f)
	if strings.Join(a, "\n") != strings.Join(b, "\n") || sa != sb {
		t.Fatalf("same seed, different runs:\n%v\n%v", sa, sb)
	}
	c, _ := runMem(seed+1, f)
	if strings.Join(a, "\n") == strings.Join(c, "\n") {
		t.Fatal("different seeds gave identical traces; faults are not random")
	}
	if sa.Dropped == 0 || sa.Duplicated == 0 || sa.Delivered == 0 {
		t.Fatalf("faults not exercised: %+v", sa)
	}
	// Reordering happened: some link delivered a lower index after a higher one.
	last := map[string]int{}
	reordered := false
	for _, line := range a {
		var at, to, from, g, idx int
		var typ string
		var unit string
		fmt.Sscanf(strings.Replace(line, "<-", " ", 1), "%d%s %d %d %s g%d i%d", &at, &unit, &to, &from, &typ, &g, &idx)
		key := fmt.Sprint(to, from, typ)
		if typ == "MsgApp" && idx < last[key] {
			reordered = true
		}
		last[key] = max(last[key], idx)
	}
	if !reordered {
		t.Fatal("no reordering observed with ReorderRate 0.2")
	}
}

func TestMemNetworkClockDrivesDelivery(t *testing.T) {
	n := NewMemNetwork(testSeed(t), Faults{MinDelay: 10 * time.Millisecond, MaxDelay: 10 * time.Millisecond})
	r := newRecorder()
	a := n.Add(1, newRecorder())
	n.Add(2, r)
	a.Send(msgApp(1, 1, 2, 1, 10))
	if got := n.Advance(9 * time.Millisecond); got != 0 || r.count() != 0 {
		t.Fatalf("delivered %d before the delay elapsed", got)
	}
	if got := n.Advance(time.Millisecond); got != 1 || r.count() != 1 {
		t.Fatalf("delivered %d at the delay", got)
	}
	// The receiver owns an independent copy.
	m := r.messages()[0]
	m.Entries[0].Data[0] ^= 1
	if want := msgApp(1, 1, 2, 1, 10); m.Entries[0].Data[0] == want.Entries[0].Data[0] {
		t.Fatal("copy shares memory")
	}
}

func TestMemNetworkPartitionsAndOneWayCuts(t *testing.T) {
	n := NewMemNetwork(testSeed(t), Faults{})
	recs := map[raftpb.NodeID]*recorder{}
	ts := map[raftpb.NodeID]*MemTransport{}
	for id := raftpb.NodeID(1); id <= 3; id++ {
		recs[id] = newRecorder()
		ts[id] = n.Add(id, recs[id])
	}
	send := func(from, to raftpb.NodeID) {
		ts[from].Send(raftpb.Message{Type: raftpb.MsgVote, Group: 1, To: to, Term: 2})
		n.Advance(time.Millisecond)
	}
	n.Cut(1, 2) // one way
	send(1, 2)
	send(2, 1)
	if recs[2].count() != 0 || recs[1].count() != 1 {
		t.Fatalf("one-way cut: 2 got %d, 1 got %d", recs[2].count(), recs[1].count())
	}
	n.Heal()
	n.Partition([]raftpb.NodeID{1}, []raftpb.NodeID{2, 3})
	send(1, 3)
	send(3, 1)
	send(2, 3)
	if recs[3].count() != 1 || recs[1].count() != 1 {
		t.Fatalf("partition: 3 got %d, 1 got %d", recs[3].count(), recs[1].count())
	}
	if err := ts[1].SendSnapshot(t.Context(), snapMsg(1, 2), BytesSource("s")); !errors.Is(err, ErrSnapshotFailed) {
		t.Fatalf("snapshot across a partition: %v", err)
	}
	// In-flight messages are lost when a cut happens before delivery.
	n.Heal()
	n.SetFaults(Faults{MinDelay: 5 * time.Millisecond})
	ts[2].Send(raftpb.Message{Type: raftpb.MsgVote, Group: 1, To: 3, Term: 2})
	n.Isolate(3)
	n.Advance(10 * time.Millisecond)
	if recs[3].count() != 1 {
		t.Fatalf("message delivered across a cut made while it was in flight")
	}
	n.Heal()
	if err := ts[1].SendSnapshot(t.Context(), snapMsg(1, 2), BytesSource("snap")); err != nil {
		t.Fatal(err)
	}
	if len(recs[2].snaps) != 1 || string(recs[2].snaps[0].data) != "snap" || recs[2].snaps[0].msg.From != 1 {
		t.Fatalf("snapshot not installed: %+v", recs[2].snaps)
	}
}

// TestMemNetworkCoalescesHeartbeats: heartbeats of many groups leave as
// one frame per peer per flush, like the TCP transport.
func TestMemNetworkCoalescesHeartbeats(t *testing.T) {
	n := NewMemNetwork(testSeed(t), Faults{})
	a := n.Add(1, newRecorder())
	r2, r3 := newRecorder(), newRecorder()
	n.Add(2, r2)
	n.Add(3, r3)
	for tick := 0; tick < 10; tick++ {
		for g := 0; g < 1000; g++ {
			a.Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(g), To: raftpb.NodeID(2 + g%2), Term: 1})
			a.Send(raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(g), To: raftpb.NodeID(2 + g%2), Term: 2}) // replaces
		}
		a.FlushHeartbeats()
		n.Advance(time.Millisecond)
	}
	if st := n.Stats(); st.HeartbeatFrames != 20 || r2.frames != 10 || r3.frames != 10 || r2.count() != 5000 {
		t.Fatalf("stats %+v, frames %d/%d, heartbeats %d", st, r2.frames, r3.frames, r2.count())
	}
	for _, m := range r2.messages() {
		if m.Term != 2 || m.From != 1 {
			t.Fatalf("coalesced heartbeat %v: want the latest (term 2) from node 1", m)
		}
	}
}
