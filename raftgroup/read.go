package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// reads holds the leader's linearizable read requests.
//
// A read is confirmed in rounds: every request that arrives before a round
// starts joins it; the round's heartbeat carries its sequence number in
// Message.Context; once a quorum has answered a heartbeat with a context at
// least that number, the leader knows it was still leader when the round
// began, so every request of the round may read at the commit index it
// recorded. Many requests share one heartbeat round.
//
// The requests and results are in a readQueue made on the first request
// and dropped once empty on a quiescing leader or on any other role: a
// node hosts tens of thousands of groups, most of them idle, and the
// queues' slice headers alone cost about 100 B in each.
type reads struct {
	// seq is the last round started.
	seq uint64
	// confirmed is the last round a quorum acknowledged.
	confirmed uint64
	// leaseFrom is the first round whose confirmation makes the lease
	// valid again (after the leader wakes from quiescence, during which it
	// heard from nobody).
	leaseFrom uint64
	// q holds the requests and results; nil when there are none.
	q *readQueue
}

// readQueue is reads' requests and results.
//
// Invariant: waiting holds requests in ascending seq order; seq 0 marks
// requests that have not joined a round yet (all at the tail).
type readQueue struct {
	// waiting are requests recorded with their read index.
	waiting []pendingRead
	// unassigned counts the tail of waiting not yet in a round.
	unassigned int
	// blocked are requests made before the leader committed an entry of
	// its term; they get a read index once it has.
	blocked []blockedRead

	ready   []ReadState
	dropped []uint64
}

// queue returns r's queue, making it if need be.
func (r *reads) queue() *readQueue {
	if r.q == nil {
		r.q = &readQueue{}
	}
	return r.q
}

// pending reports whether requests wait for a read index or a round.
func (r *reads) pending() bool {
	return r.q != nil && (len(r.q.waiting) > 0 || len(r.q.blocked) > 0)
}

// release drops the queue if it holds nothing.
func (r *reads) release() {
	if q := r.q; q != nil && len(q.waiting) == 0 && len(q.blocked) == 0 && len(q.ready) == 0 && len(q.dropped) == 0 {
		r.q = nil
	}
}

type blockedRead struct {
	id         uint64
	allowLease bool
}

type pendingRead struct {
	id    uint64
	index raftpb.Index
	seq   uint64
}

func (r *reads) hasWork() bool {
	q := r.q
	return q != nil && (q.unassigned > 0 || len(q.ready) > 0 || len(q.dropped) > 0)
}

func (r *reads) takeResults() ([]ReadState, []uint64) {
	q := r.q
	if q == nil {
		return nil, nil
	}
	rs, d := q.ready, q.dropped
	q.ready, q.dropped = nil, nil
	return rs, d
}

// dropAll fails every pending request (leadership changed).
func (r *reads) dropAll() {
	q := r.q
	if q == nil {
		return
	}
	for _, p := range q.waiting {
		q.dropped = append(q.dropped, p.id)
	}
	for _, b := range q.blocked {
		q.dropped = append(q.dropped, b.id)
	}
	q.waiting, q.blocked, q.unassigned = q.waiting[:0], q.blocked[:0], 0
}

// ReadIndex asks for a linearizable read, identified by id. The answer
// arrives in a later Ready as a ReadState{ID: id, Index} (or id in
// DroppedReads if leadership is lost first). Only the leader serves reads;
// elsewhere it returns a *NotLeaderError.
//
// With Config.LeaseReads the leader answers from its lease while the lease
// is valid; ReadIndexQuorum always confirms with a heartbeat round.
func (g *Group) ReadIndex(id uint64) error { return g.readIndex(id, true) }

// ReadIndexQuorum is ReadIndex that never relies on the lease: the read is
// confirmed by a quorum's answers to a heartbeat round even when
// Config.LeaseReads is set (for callers that choose per read).
func (g *Group) ReadIndexQuorum(id uint64) error { return g.readIndex(id, false) }

func (g *Group) readIndex(id uint64, allowLease bool) error {
	g.wake()
	if g.role != Leader {
		return &NotLeaderError{Group: g.group, Leader: g.lead, Term: g.term}
	}
	if !g.committedInTerm() {
		q := g.reads.queue()
		q.blocked = append(q.blocked, blockedRead{id: id, allowLease: allowLease})
		return nil
	}
	g.addRead(id, allowLease)
	return nil
}

// committedInTerm reports whether the leader has committed an entry of its
// own term; until then its commit index may be behind the true one.
func (g *Group) committedInTerm() bool {
	t, err := g.log.term(g.log.committed)
	return err == nil && t == g.term
}

func (g *Group) addRead(id uint64, allowLease bool) {
	idx := g.log.committed
	if g.singleVoter() || allowLease && g.leaseValid() {
		q := g.reads.queue()
		q.ready = append(q.ready, ReadState{ID: id, Index: idx})
		return
	}
	q := g.reads.queue()
	q.waiting = append(q.waiting, pendingRead{id: id, index: idx})
	q.unassigned++
}

func (g *Group) singleVoter() bool {
	v := g.trk.cs.Voters
	return len(v) == 1 && len(g.trk.cs.VotersOutgoing) == 0 && v[0] == g.id
}

// leaseValid reports whether lease reads are on. The lease holds because
// with CheckQuorum a voter that heard from the leader refuses to elect
// anyone else for an election timeout, counted from when the heartbeat
// reached it, which is no earlier than when the leader sent it. So the
// lease runs from the start of the last read round a quorum acknowledged
// (its number carries the leader's tick count then: nextRound), not from
// when the answers were handled: an answer may be handled long after it
// was sent (the leader's process was stopped with the answer in its
// socket, then resumed) and by then the voters may have elected another
// leader. chaos.TestLeasePause saw exactly such stale reads while the
// lease counted from the answers' arrival. See doc.go for the clock-drift
// assumption.
//
// A leader waking from quiescence did not tick while quiet: its lease is
// void until a quorum confirms a read round started after the wake. A new
// leader's lease likewise waits for a round of its own term.
//
// The lease is shorter than the election timeout by leaseMargin ticks: a
// follower's election timer counts whole ticks from the heartbeat, and the
// two tick at different phases, which costs up to two ticks; a fifth of
// the election timeout if larger leaves room for clock drift.
func (g *Group) leaseValid() bool {
	c := g.reads.confirmed
	return g.cfg.LeaseReads && !g.cfg.DisableCheckQuorum && g.role == Leader &&
		c >= g.reads.leaseFrom && c > 0 && !g.sentTimeoutNow &&
		g.ticks-roundTick(c) < uint64(g.cfg.ElectionTicks-leaseMargin(g.cfg.ElectionTicks))
}

// leaseMargin is how many ticks before the election timeout a lease ends.
func leaseMargin(electionTicks int) int { return max(2, electionTicks/5) }

// unblockReads gives blocked requests their read index once the leader has
// committed in its term.
func (g *Group) unblockReads() {
	q := g.reads.q
	if q == nil || len(q.blocked) == 0 || !g.committedInTerm() {
		return
	}
	for _, b := range q.blocked {
		g.addRead(b.id, b.allowLease)
	}
	q.blocked = q.blocked[:0]
}

// startReadRound sends one heartbeat round for every request not yet in a
// round.
func (g *Group) startReadRound() {
	if q := g.reads.q; q != nil && q.unassigned > 0 {
		g.startRound()
	}
}

// startRound starts a read round: every request not yet in a round joins
// it, and every follower gets a heartbeat carrying its number.
//
// NB: the leader's periodic heartbeats repeat the last round's number and
// so do not renew the lease: a lease lasts from a round started for
// reads, and once it ends the next lease read starts a round. Renewing it
// with every periodic heartbeat would make each one a new round, which the
// store takes for a waiting read and flushes at once (shard/readflush.go):
// a second heartbeat frame per peer per tick.
func (g *Group) startRound() {
	if !g.nextRound() {
		// More rounds in one tick than a round number holds: the
		// requests wait for the next tick's round. Not reachable in
		// practice (65,536 rounds per tick); a round numbered past
		// its start tick would make the lease too long.
		g.bcastHeartbeat()
		return
	}
	if q := g.reads.q; q != nil {
		for i := len(q.waiting) - q.unassigned; i < len(q.waiting); i++ {
			q.waiting[i].seq = g.reads.seq
		}
		q.unassigned = 0
	}
	g.bcastHeartbeat()
}

// roundTickBits is how many low bits of a read round's number count the
// rounds started within one tick; the high bits are the leader's tick
// count when the round started (2^48 ticks: 8,900 years of 1 ms ticks).
const roundTickBits = 16

// nextRound numbers a new read round: greater than every earlier one, and
// with the current tick count in its high bits. It reports false, and
// numbers nothing, if this tick's rounds are used up.
func (g *Group) nextRound() bool {
	next := max(g.reads.seq+1, g.ticks<<roundTickBits)
	if roundTick(next) > g.ticks {
		return false
	}
	g.reads.seq = next
	return true
}

// roundTick is the leader's tick count when round seq started.
func roundTick(seq uint64) uint64 { return seq >> roundTickBits }

// readAcked records that follower pr acknowledged round ctx, and releases
// every request whose round a quorum has acknowledged.
func (g *Group) readAcked(pr *progress, ctx uint64) {
	if ctx <= pr.readAck || ctx > g.reads.seq {
		return
	}
	pr.readAck = ctx
	confirmed := uint64(g.trk.voters().committed(func(id raftpb.NodeID) raftpb.Index {
		if id == g.id {
			return raftpb.Index(g.reads.seq)
		}
		if p := g.trk.get(id); p != nil {
			return raftpb.Index(p.readAck)
		}
		return 0
	}))
	g.reads.confirmed = max(g.reads.confirmed, confirmed)
	q := g.reads.q
	if q == nil {
		return
	}
	n := 0
	for n < len(q.waiting) && q.waiting[n].seq != 0 && q.waiting[n].seq <= confirmed {
		p := q.waiting[n]
		q.ready = append(q.ready, ReadState{ID: p.id, Index: p.index})
		n++
	}
	if n > 0 {
		q.waiting = append(q.waiting[:0], q.waiting[n:]...)
	}
}
