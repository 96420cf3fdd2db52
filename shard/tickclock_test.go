package shard

import (
	"testing"
	"time"
)

// TestTickClockCatchUp: after a stall (the process stopped, the ticker's
// missed firings dropped), one firing delivers every tick owed, bounded
// by maxCatchUpTicks election timeouts; a lease read then counts as fresh
// only if the ticks were delivered at most one tick interval ago.
func TestTickClockCatchUp(t *testing.T) {
	const tick = 100 * time.Millisecond
	s := &Store{opts: Options{TickInterval: tick, ElectionTicks: 10, LeaseReads: true}, clock0: time.Now()}
	c := s.newTickClock()
	c.base -= int64(5*tick + tick/2) // started five ticks and a half ago
	if n, _ := c.fire(); n != 5 {
		t.Fatalf("first firing after 5.5 ticks delivered %d ticks, want 5", n)
	}
	if n, _ := c.fire(); n != 1 {
		t.Fatalf("an immediate firing delivered %d ticks, want 1", n)
	}
	c.base -= int64(time.Hour) // an hour's stall
	n, at := c.fire()
	if n != maxCatchUpTicks*10 {
		t.Fatalf("after an hour's stall a firing delivered %d ticks, want the cap %d", n, maxCatchUpTicks*10)
	}
	// Without lease reads a stall costs no catch-up: a firing is a tick.
	s.opts.LeaseReads = false
	if n, _ := c.fire(); n != 1 {
		t.Fatalf("without lease reads a firing after a stall delivered %d ticks", n)
	}
	r := &replica{}
	r.tickedAt = at
	if !s.leaseFresh(r) {
		t.Fatal("ticks delivered just now are not fresh")
	}
	r.tickedAt = at - int64(2*tick)
	if s.leaseFresh(r) {
		t.Fatal("ticks delivered two intervals ago count as fresh")
	}
}
