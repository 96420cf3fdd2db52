package transport

import (
	"sync"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// hbCounter is a Handler that counts frames and heartbeats per sender.
type hbCounter struct {
	recorder
	mu     sync.Mutex
	frames map[raftpb.NodeID]int
	hbs    map[raftpb.NodeID]int
}

func (h *hbCounter) HandleMessages(batch []raftpb.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frames[batch[0].From]++
	for _, m := range batch {
		if m.Type.IsHeartbeat() {
			h.hbs[m.From]++
		}
	}
}

func (h *hbCounter) counts(from raftpb.NodeID) (frames, hbs int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.frames[from], h.hbs[from]
}

// TestHeartbeatsCoalescedOneFramePerTick runs 3 nodes on loopback with
// every group replicated on all three and leaders spread evenly. Each tick,
// every node queues a heartbeat (leader) or heartbeat response (follower)
// for every group to each peer and flushes once. Each node pair must see
// exactly one frame per direction per tick, carrying all the groups.
func TestHeartbeatsCoalescedOneFramePerTick(t *testing.T) {
	groups, ticks := 10000, 5
	if testing.Short() {
		groups = 2000
	}
	res := &StaticResolver{}
	nodes := map[raftpb.NodeID]*Transport{}
	handlers := map[raftpb.NodeID]*hbCounter{}
	for id := raftpb.NodeID(1); id <= 3; id++ {
		h := &hbCounter{frames: map[raftpb.NodeID]int{}, hbs: map[raftpb.NodeID]int{}}
		tr, err := New(Options{NodeID: id, ClusterID: 1, ListenAddr: "127.0.0.1:0", Resolver: res, Logger: quietLogger()}, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		res.Set(id, tr.Addr().String())
		nodes[id], handlers[id] = tr, h
	}
	for tick := 1; tick <= ticks; tick++ {
		for id, tr := range nodes {
			var out []raftpb.Message
			for g := 0; g < groups; g++ {
				leader := raftpb.NodeID(g%3 + 1)
				for peer := raftpb.NodeID(1); peer <= 3; peer++ {
					switch {
					case peer == id:
					case leader == id:
						out = append(out, raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(g), From: id, To: peer, Term: 2, Commit: raftpb.Index(tick)})
					case leader == peer:
						out = append(out, raftpb.Message{Type: raftpb.MsgHeartbeatResp, Group: raftpb.GroupID(g), From: id, To: peer, Term: 2})
					}
				}
			}
			tr.Send(out...)
			tr.FlushHeartbeats()
		}
		// Each directed pair carries groups/3 heartbeats and groups/3
		// responses (for the groups led by either end) per tick.
		perPair := 2 * (groups / 3)
		waitFor(t, "tick delivered", 20*time.Second, func() bool {
			for to, h := range handlers {
				for from := range nodes {
					if from == to {
						continue
					}
					if _, n := h.counts(from); n < tick*perPair {
						return false
					}
				}
			}
			return true
		})
		for to, h := range handlers {
			for from := range nodes {
				if from == to {
					continue
				}
				if f, _ := h.counts(from); f != tick {
					t.Fatalf("tick %d: %d->%d carried %d frames, want %d (one per tick)", tick, from, to, f, tick)
				}
			}
		}
	}
	for id, tr := range nodes {
		if m := tr.Metrics(); m.HeartbeatFramesSent != uint64(2*ticks) || m.MessagesDropped != 0 {
			t.Fatalf("node %d: %d heartbeat frames for %d ticks x 2 peers, %d dropped", id, m.HeartbeatFramesSent, ticks, m.MessagesDropped)
		}
	}
}

func TestHeartbeatBufferCoalescesPerGroup(t *testing.T) {
	var b hbBuffer
	for term := raftpb.Term(1); term <= 5; term++ {
		for g := raftpb.GroupID(0); g < 3; g++ {
			if !b.add(&raftpb.Message{Type: raftpb.MsgHeartbeat, Group: g, Term: term, Entries: []raftpb.Entry{{}}}, 3) {
				t.Fatalf("add dropped")
			}
		}
	}
	if b.add(&raftpb.Message{Type: raftpb.MsgHeartbeat, Group: 9}, 3) {
		t.Fatal("a fourth group fit in a buffer of 3")
	}
	if !b.add(&raftpb.Message{Type: raftpb.MsgHeartbeatResp, Group: 9}, 4) {
		t.Fatal("a response slot was refused")
	}
	got := b.take(nil)
	if len(got) != 4 || b.len() != 0 {
		t.Fatalf("took %d, left %d", len(got), b.len())
	}
	for _, m := range got[:3] {
		if m.Term != 5 || m.Entries != nil {
			t.Fatalf("kept %v, want the latest (term 5) without entries", m)
		}
	}
}

// TestReadHeartbeatFramesCountedApart: a flush asked for by a waiting read
// sends the queued heartbeats at once, and its frame is counted as a read
// frame, not as the tick's heartbeat frame.
func TestReadHeartbeatFramesCountedApart(t *testing.T) {
	res := &StaticResolver{}
	h := &hbCounter{frames: map[raftpb.NodeID]int{}, hbs: map[raftpb.NodeID]int{}}
	var trs [2]*Transport
	for i := range trs {
		var hd Handler = &hbCounter{frames: map[raftpb.NodeID]int{}, hbs: map[raftpb.NodeID]int{}}
		if i == 1 {
			hd = h
		}
		tr, err := New(Options{NodeID: raftpb.NodeID(i + 1), ClusterID: 1, ListenAddr: "127.0.0.1:0", Resolver: res, Logger: quietLogger()}, hd)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		res.Set(raftpb.NodeID(i+1), tr.Addr().String())
		trs[i] = tr
	}
	beat := func(g int, ctx uint64) raftpb.Message {
		return raftpb.Message{Type: raftpb.MsgHeartbeat, Group: raftpb.GroupID(g), From: 1, To: 2, Term: 2, Context: ctx}
	}
	trs[0].Send(beat(1, 0), beat(2, 7))
	trs[0].FlushReadHeartbeats()
	waitFor(t, "read frame delivered", 10*time.Second, func() bool { _, n := h.counts(1); return n == 2 })
	trs[0].Send(beat(1, 0), beat(2, 7))
	trs[0].FlushHeartbeats()
	waitFor(t, "tick frame delivered", 10*time.Second, func() bool { _, n := h.counts(1); return n == 4 })
	m := trs[0].Metrics()
	if m.ReadHeartbeatFramesSent != 1 || m.HeartbeatFramesSent != 1 {
		t.Fatalf("read frames %d, tick frames %d; want 1 and 1", m.ReadHeartbeatFramesSent, m.HeartbeatFramesSent)
	}
	if f, _ := h.counts(1); f != 2 {
		t.Fatalf("%d frames received, want 2", f)
	}
}
