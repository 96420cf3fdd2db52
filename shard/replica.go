package shard

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// replica is this node's member of one shard's group.
//
// Ownership: the fields under mu are the inbox, written by any goroutine
// (transport readers, clients, the ticker). Everything else that is not
// atomic is owned by the worker running the replica's round; the
// scheduler guarantees at most one such worker at a time (sched state).
type replica struct {
	id      ShardID
	store   *Store
	g       *raftgroup.Group
	storage *raftStorage

	// applied is the last applied log index and appliedTerm its term.
	// With the published descriptor and membership (view) they are the
	// shard's persisted ShardState (shardState): the replica keeps no
	// second copy of the descriptor (replicas are many; one cost 200 B).
	applied     raftpb.Index
	appliedTerm raftpb.Term
	// pending proposals by log index, resolved when that index applies
	// (more than one, linked by proposal.next, when a new leader term
	// reused the index here).
	pending map[raftpb.Index]*proposal
	// reads waiting for their ReadState, by read ID.
	reads map[uint64]*readReq
	// readsToApply have a read index not yet applied.
	readsToApply []*readReq
	// outSnaps are snapshot images captured for MsgSnaps of this round.
	outSnaps []outSnap
	nextRead uint64
	// tickedAt is the tick clock's reading (tickclock.go) when the ticks
	// the group has stepped were delivered.
	tickedAt int64
	// readBeat is the newest read round r sent a heartbeat for.
	readBeat readBeat
	// unwrittenHS is r's newest hard state when it is not in the WAL yet
	// (hasUnwrittenHS); only its commit index differs from the WAL's.
	unwrittenHS raftpb.HardState
	// frozen is the snapshot being installed; the replica takes no input
	// until it is done.
	frozen *snapInstall

	// appliedIdx mirrors applied for the syncer; durableIdx is the
	// applied index known durable (a sync point passed it); compactedIdx is
	// the log's compaction point (round-owned, read by the syncer).
	appliedIdx   atomic.Uint64
	durableIdx   atomic.Uint64
	compactedIdx atomicIndex

	// requests counts the client requests this replica took (proposals,
	// reads), for placement's load figures.
	requests atomic.Uint64

	sched  atomic.Uint32
	awake  atomic.Bool
	leader atomic.Uint64
	// view is the descriptor and membership as of applied, for readers
	// (routing, reports) and for the round alike. Written by the round
	// only (publish); never modified once published.
	view atomic.Pointer[replicaView]

	mu struct {
		sync.Mutex
		msgs     []raftpb.Message
		props    []*proposal
		readReqs []*readReq
		ticks    int
		tickAt   int64
		// deadLeader is a leader membership declared dead (deadnode.go);
		// campaign: this replica is the survivor that campaigns for it.
		deadLeader raftpb.NodeID
		wake       bool
		campaign   bool
		// destroyed: the replica left this node (lifecycle.go); nothing
		// may be queued any more.
		destroyed   bool
		snapReports []snapReport
		unreachable []raftpb.NodeID
		installs    []*snapInstall
		// adopt is the state a split created for this (uninitialized)
		// replica's shard (lifecycle.go).
		adopt *ShardState
		// changed is closed (and cleared) when the descriptor or the
		// known leader changes; waiters (admin.go) make it on demand.
		changed chan struct{}
	}
	// gone is the round-owned copy of mu.destroyed.
	gone bool
	// removed: an applied membership change left this node out of the
	// group; the round destroys the replica once its last Ready is out.
	removed bool
	// stateChanged: more than the applied index changed since the state
	// was last written whole (a conf change, a split or a snapshot), so
	// the next apply writes it with SetState rather than SetApplied.
	stateChanged   bool
	hasUnwrittenHS bool
	// NB: the bools are kept together at the end: replicas are many, and
	// the struct fits Go's 448-byte size class (TestReplicaSize).
}

// replicaView is what a replica publishes of its state: both in one
// allocation, replaced whole on every change.
type replicaView struct {
	desc Descriptor
	conf raftpb.ConfState
}

// proposal is a command waiting to be committed and applied.
type proposal struct {
	kind  uint8 // propNormal etc. (admin.go)
	cc    raftpb.ConfChange
	to    raftpb.NodeID
	data  []byte
	index raftpb.Index
	term  raftpb.Term
	done  chan proposalResult
	// next is an older proposal pending at the same index (replica.pending).
	// NB: a link rather than a slice per index: the slice was one more
	// allocation per write.
	next *proposal
}

type proposalResult struct {
	result []byte
	err    error
}

func newProposal(data []byte) *proposal {
	return &proposal{data: data, done: make(chan proposalResult, 1)}
}

func (p *proposal) finish(result []byte, err error) {
	select {
	case p.done <- proposalResult{result: result, err: err}:
	default: // already finished
	}
}

// readReq is a read waiting for its confirmation (read index applied).
type readReq struct {
	id     uint64
	quorum bool
	index  raftpb.Index
	done   chan error
}

func newReadReq(quorum bool) *readReq { return &readReq{quorum: quorum, done: make(chan error, 1)} }

func (q *readReq) finish(err error) {
	select {
	case q.done <- err:
	default:
	}
}

type outSnap struct {
	index raftpb.Index
	src   SnapshotSource
}

type snapReport struct {
	to     raftpb.NodeID
	failed bool
}

// snapInstall is a received snapshot waiting for its replica to accept it.
type snapInstall struct {
	msg raftpb.Message
	// accept is answered by the round: nil to go ahead (the replica is
	// frozen until installed is signalled), an error to refuse.
	accept chan error
	// installed is signalled by the receiver once the image is in the
	// state machine (nil) or failed.
	installed chan error
}

// descriptor returns the replica's current descriptor (read-only).
func (r *replica) descriptor() *Descriptor { return &r.view.Load().desc }

// confState returns the replica's membership as of its applied index
// (read-only).
func (r *replica) confState() *raftpb.ConfState { return &r.view.Load().conf }

// joint reports whether the membership is a joint configuration not yet
// left.
func (r *replica) joint() bool { return len(r.confState().VotersOutgoing) > 0 }

// shardState returns the replica's state as the state machine stores it.
// It shares its slices with the published view, which nobody modifies.
func (r *replica) shardState() ShardState {
	v := r.view.Load()
	return ShardState{Desc: v.desc, Applied: r.applied, AppliedTerm: r.appliedTerm, ConfState: v.conf}
}

// publish makes d, with its replicas derived from cs, and cs the
// replica's view. Neither may be modified afterwards (the caller hands
// over d's keys and cs's slices).
func (r *replica) publish(d Descriptor, cs raftpb.ConfState) {
	d.Replicas = replicasOf(&cs)
	r.view.Store(&replicaView{desc: d, conf: cs})
}

// replicasOf lists the members of cs, voters first. In the common case,
// voters only, the list is cs.Voters itself: published views are
// immutable, so the two may share one array.
func replicasOf(cs *raftpb.ConfState) []raftpb.NodeID {
	if len(cs.VotersOutgoing) == 0 && len(cs.Learners) == 0 && len(cs.LearnersNext) == 0 && !hasDuplicate(cs.Voters) {
		return cs.Voters
	}
	var ids []raftpb.NodeID
	for _, l := range [][]raftpb.NodeID{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, id := range l {
			if !containsNode(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func hasDuplicate(ids []raftpb.NodeID) bool {
	for i, id := range ids {
		if containsNode(ids[:i], id) {
			return true
		}
	}
	return false
}

// addMessages queues Raft messages for the next round; past the inbox
// bound they are dropped (Raft tolerates loss).
func (r *replica) addMessages(msgs []raftpb.Message) (dropped int) {
	r.mu.Lock()
	room := r.store.opts.MaxInboxMessages - len(r.mu.msgs)
	if room < len(msgs) {
		dropped = len(msgs) - max(room, 0)
		msgs = msgs[:max(room, 0)]
	}
	r.mu.msgs = append(r.mu.msgs, msgs...)
	r.mu.Unlock()
	r.store.sched.enqueue(r)
	return dropped
}

func (r *replica) addProposal(p *proposal) {
	r.mu.Lock()
	if r.mu.destroyed {
		r.mu.Unlock()
		p.finish(nil, fmt.Errorf("%w: shard %d left node %d", ErrShardMoved, r.id, r.store.opts.NodeID))
		return
	}
	r.mu.props = append(r.mu.props, p)
	r.mu.Unlock()
	r.requests.Add(1)
	r.store.sched.enqueue(r)
}

func (r *replica) addRead(q *readReq) {
	r.mu.Lock()
	if r.mu.destroyed {
		r.mu.Unlock()
		q.finish(fmt.Errorf("%w: shard %d left node %d", ErrShardMoved, r.id, r.store.opts.NodeID))
		return
	}
	r.mu.readReqs = append(r.mu.readReqs, q)
	r.mu.Unlock()
	r.requests.Add(1)
	r.store.sched.enqueue(r)
}

// tick queues n ticks delivered at tick clock reading at.
func (r *replica) tick(n int, at int64) {
	r.mu.Lock()
	r.mu.ticks += n
	r.mu.tickAt = at
	r.mu.Unlock()
	r.store.sched.enqueue(r)
}

// wakeUp ends quiescence at the next round (a dead leader node).
// leaderDead queues, for the next round, that the leader on node id is
// dead (and whether this replica should campaign), and wakes the replica.
func (r *replica) leaderDead(id raftpb.NodeID, campaign bool) {
	r.mu.Lock()
	r.mu.wake = true
	r.mu.deadLeader, r.mu.campaign = id, campaign
	r.mu.Unlock()
	r.setAwake(true)
	r.store.sched.enqueue(r)
}

func (r *replica) wakeUp() {
	r.mu.Lock()
	r.mu.wake = true
	r.mu.Unlock()
	r.setAwake(true)
	r.store.sched.enqueue(r)
}

// inbox is what a round takes from the replica's inbox.
type inbox struct {
	msgs        []raftpb.Message
	props       []*proposal
	reads       []*readReq
	ticks       int
	tickAt      int64
	wake        bool
	snapReports []snapReport
	unreachable []raftpb.NodeID
	installs    []*snapInstall
	adopt       *ShardState
	deadLeader  raftpb.NodeID
	campaign    bool
}

// take empties the inbox into in.
func (r *replica) take(in *inbox) {
	r.mu.Lock()
	in.msgs, r.mu.msgs = r.mu.msgs, in.msgs[:0]
	in.props, r.mu.props = r.mu.props, in.props[:0]
	in.reads, r.mu.readReqs = r.mu.readReqs, in.reads[:0]
	in.ticks, r.mu.ticks = r.mu.ticks, 0
	in.tickAt = r.mu.tickAt
	in.wake, r.mu.wake = r.mu.wake, false
	in.deadLeader, r.mu.deadLeader = r.mu.deadLeader, raftpb.None
	in.campaign, r.mu.campaign = r.mu.campaign, false
	in.snapReports, r.mu.snapReports = r.mu.snapReports, in.snapReports[:0]
	in.unreachable, r.mu.unreachable = r.mu.unreachable, in.unreachable[:0]
	in.installs, r.mu.installs = r.mu.installs, in.installs[:0]
	in.adopt, r.mu.adopt = r.mu.adopt, nil
	r.mu.Unlock()
}

// settle publishes whether r's group still needs ticks. A group that has
// gone quiet also gives up its inbox buffers: take swaps buffers between
// workers and replicas, so without this every replica that ever received
// a message would keep one (about 1.3 KB each, measured at 30,000
// replicas), while a quiesced replica may stay idle for hours. Its empty
// round-owned maps and slices go too (made again on first use): a Go map
// keeps its buckets when emptied, so a leader's first read alone left a
// read map of about 200 B in it.
func (r *replica) settle() {
	quiet := r.g.Quiesced()
	if !quiet {
		r.setAwake(true)
		return
	}
	// NB: the flag goes down last, once r is done with its fields, so
	// that whoever sees it down (the ticker, a test) sees them settled.
	defer r.setAwake(false)
	r.mu.Lock()
	dropEmpty(&r.mu.msgs)
	dropEmpty(&r.mu.props)
	dropEmpty(&r.mu.readReqs)
	dropEmpty(&r.mu.snapReports)
	dropEmpty(&r.mu.unreachable)
	dropEmpty(&r.mu.installs)
	r.mu.Unlock()
	if r.pending != nil && len(r.pending) == 0 {
		r.pending = nil
	}
	if r.reads != nil && len(r.reads) == 0 {
		r.reads = nil
	}
	if r.readsToApply != nil && len(r.readsToApply) == 0 {
		r.readsToApply = nil
	}
	if r.outSnaps != nil && len(r.outSnaps) == 0 {
		r.outSnaps = nil
	}
	r.storage.dropTail()
}

// atomicIndex is an atomic raftpb.Index.
type atomicIndex struct{ v atomic.Uint64 }

func (a *atomicIndex) Load() raftpb.Index   { return raftpb.Index(a.v.Load()) }
func (a *atomicIndex) Store(i raftpb.Index) { a.v.Store(uint64(i)) }

// changes returns a channel closed at the next change of r's descriptor
// or known leader.
func (r *replica) changes() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.changed == nil {
		r.mu.changed = make(chan struct{})
	}
	return r.mu.changed
}

// notifyDesc wakes the waiters of changes.
func (r *replica) notifyDesc() {
	r.mu.Lock()
	if r.mu.changed != nil {
		close(r.mu.changed)
		r.mu.changed = nil
	}
	r.mu.Unlock()
}

// dropEmpty gives back an empty slice's array (a quiesced replica keeps
// no buffers).
func dropEmpty[T any](s *[]T) {
	if len(*s) == 0 {
		*s = nil
	}
}
