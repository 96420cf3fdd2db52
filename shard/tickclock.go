package shard

import "time"

// The tick clock keeps Raft's tick counts true to real time, which leader
// leases depend on (raftgroup's doc, "Reads"): a lease lasts so many of
// the leader's ticks, and is sound only if those ticks are not fewer than
// the time that passed. A time.Ticker drops the ticks a stalled process
// missed (a SIGSTOP, a VM pause, a long GC or swap stall): after a pause
// of several election timeouts it fires once, and a leader counting ticks
// would still believe its lease held while the others have elected a new
// leader and written (chaos.TestLeasePause showed such stale reads). So
// with lease reads on, the ticker delivers every tick owed since it
// started, read from the monotonic clock, which runs on while the process
// is stopped; and a lease read is served from the lease only if the group's tick count was
// brought up to date at most one tick interval before the read index is
// taken. That is checked after the read index is taken, so that a stall
// between the two cannot slip through; a read that fails the check is
// confirmed by a heartbeat round instead, as without leases.

// maxCatchUpTicks bounds the ticks one firing delivers after a stall, in
// election timeouts: enough to expire every lease and election timer.
const maxCatchUpTicks = 4

// tickClock counts the ticks owed since the ticker started (not since the
// store opened: the recovery before it must not count as a stall).
type tickClock struct {
	s         *Store
	base      int64
	delivered int64
}

func (s *Store) newTickClock() *tickClock { return &tickClock{s: s, base: s.clockNow()} }

// clockNow is the tick clock's reading: monotonic nanoseconds since the
// store opened.
func (s *Store) clockNow() int64 { return int64(time.Since(s.clock0)) }

// fire is called at each firing of the ticker: it returns how many ticks
// to deliver (at least one, more after a stall) and the clock's reading.
//
// Only a store with LeaseReads catches up: without leases no safety
// property depends on ticks keeping up with time, and a node starved of
// CPU for a while would otherwise make its followers campaign at once
// and its leaders step down, where dropping the missed ticks just waits.
func (c *tickClock) fire() (int, int64) {
	now := c.s.clockNow()
	owed := (now-c.base)/int64(c.s.opts.TickInterval) - c.delivered
	if !c.s.opts.LeaseReads {
		owed = 1
	}
	owed = max(owed, 1)
	c.delivered += owed
	return int(min(owed, int64(maxCatchUpTicks*c.s.opts.ElectionTicks))), now
}

// leaseFresh reports whether r's tick count was brought up to date at
// most one tick interval ago.
func (s *Store) leaseFresh(r *replica) bool {
	return s.clockNow()-r.tickedAt <= int64(s.opts.TickInterval)
}
