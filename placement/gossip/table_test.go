package gossip

import (
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

func drain(t *table) []event {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]event(nil), t.mu.queue...)
	return out
}

func TestTableCoalescesUpdates(t *testing.T) {
	tb := newTable()
	now := time.Unix(100, 0)
	tb.join(Member{Meta: testMeta(1), Addr: "a:1", Since: now})
	for c := uint64(1); c <= 3; c++ {
		m := testMeta(1)
		m.Capacity = c
		tb.update(m, "a:1", now)
	}
	tb.gone(testMeta(1), "a:1", false, true, now)
	m := testMeta(1)
	m.Capacity = 9
	tb.update(m, "a:2", now) // after Dead: a rejoin, not an update
	m.Capacity = 10
	tb.update(m, "a:2", now)
	tb.update(m, "a:2", now) // no change: no event

	var got []eventKind
	var caps []uint64
	for _, e := range drain(tb) {
		got = append(got, e.kind)
		caps = append(caps, e.m.Capacity)
	}
	want := []eventKind{evJoin, evUpdate, evDead, evJoin, evUpdate}
	wantCaps := []uint64{testMeta(1).Capacity, 3, testMeta(1).Capacity, 9, 10}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] || caps[i] != wantCaps[i] {
			t.Errorf("event %d: kind %v capacity %d, want %v %d", i, got[i], caps[i], want[i], wantCaps[i])
		}
	}
	// Popping an Update ends its coalescing window.
	for range want {
		if _, _, ok := tb.next(); !ok {
			t.Fatal("next: closed")
		}
	}
	m.Capacity = 11
	tb.update(m, "a:2", now)
	if q := drain(tb); len(q) != 1 || q[0].kind != evUpdate || q[0].m.Capacity != 11 {
		t.Errorf("queue after pop and update: %+v", q)
	}
}

func TestTableBoundsQueueAndGone(t *testing.T) {
	tb := newTable()
	now := time.Unix(100, 0)
	for i := range MaxPendingEvents + 10 {
		tb.join(Member{Meta: Meta{NodeID: raftpb.NodeID(i + 1)}, Since: now})
	}
	if n := len(drain(tb)); n != MaxPendingEvents {
		t.Errorf("queue holds %d events, limit %d", n, MaxPendingEvents)
	}
	if _, dropped, _ := tb.next(); dropped != 10 {
		t.Errorf("dropped = %d, want 10", dropped)
	}
	// The table itself stays exact.
	if n := len(tb.list()); n != MaxPendingEvents+10 {
		t.Errorf("table lists %d members", n)
	}

	tb = newTable()
	for i := range maxGone + 5 {
		m := Meta{NodeID: raftpb.NodeID(i + 1)}
		tb.gone(m, "", i%2 == 0, true, now.Add(time.Duration(i)*time.Second))
	}
	tb.join(Member{Meta: Meta{NodeID: 1 << 20}, Since: now})
	ms := tb.list()
	if len(ms) != maxGone+1 {
		t.Fatalf("table holds %d members, want %d gone and 1 live", len(ms), maxGone)
	}
	// The oldest five were forgotten.
	if ms[0].NodeID != 6 {
		t.Errorf("oldest remembered gone member is %d, want 6", ms[0].NodeID)
	}
}

func TestTableCloseStopsEverything(t *testing.T) {
	tb := newTable()
	tb.join(Member{Meta: testMeta(1)})
	tb.close()
	tb.join(Member{Meta: testMeta(2)})
	if _, _, ok := tb.next(); ok {
		t.Error("next returned an event after close")
	}
	if _, ok := tb.get(2); ok {
		t.Error("a closed table recorded a join")
	}
}
