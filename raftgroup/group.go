package raftgroup

import (
	"fmt"
	"math/rand/v2"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Role is a replica's part in its group.
type Role uint8

const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case PreCandidate:
		return "pre-candidate"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// contextTransfer marks, in Message.Context of MsgVote and MsgPreVote, a
// campaign started by a leadership transfer: voters grant it even while
// they hear from the old leader.
const contextTransfer = 1

// contextLeaderDead marks a campaign by a replica whose leader was declared
// dead (ForgetLeader): a voter still inside that leader's CheckQuorum lease
// grants it as if its own timeout had passed, because the death it has not
// heard of yet is real for the candidate. Honored only without LeaseReads
// (ForgetLeader is a no-op then, so such campaigns are never sent).
const contextLeaderDead = 2

// Group is one replica of one Raft group: a deterministic state machine.
// Inputs (Tick, Step, Propose, ReadIndex, ProposeConfChange,
// TransferLeader, Wake, Report*) change its state; Ready hands out what the
// caller must persist, send and apply; Advance acknowledges it.
//
// A Group is not safe for concurrent use: one goroutine at a time drives
// it (the shard scheduler guarantees this per group).
type Group struct {
	id    raftpb.NodeID
	group raftpb.GroupID
	cfg   Config

	term raftpb.Term
	vote raftpb.NodeID
	lead raftpb.NodeID

	log *raftLog
	trk tracker

	msgs             []raftpb.Message
	msgsAfterPersist []raftpb.Message

	// NB: int32 (ElectionTicks is bounded in Config.validate): the three
	// share one word less, which keeps Group in its size class.
	electionElapsed  int32
	heartbeatElapsed int32
	// ticks counts the ticks this group was given (Tick). A read round's
	// number carries the leader's count when the round started (read.go),
	// which is what the lease is measured from.
	ticks             uint64
	randomizedTimeout int32
	// rng draws the election timeouts (a value, not a *rand.Rand: two
	// allocations less per group).
	rng rand.PCG

	// leadTransferee is the target of a leadership transfer in progress.
	leadTransferee raftpb.NodeID
	// pendingConfIndex: no new membership change may be proposed until the
	// log is applied up to here.
	pendingConfIndex raftpb.Index
	// uncommittedBytes is the payload the leader holds appended but not
	// committed (bounded by MaxUncommittedBytes).
	uncommittedBytes uint64

	reads reads

	prevHard raftpb.HardState
	// prevLead and prevRole are the SoftState last handed out.
	prevLead raftpb.NodeID

	// NB: the small fields are kept together at the end: a node hosts
	// tens of thousands of groups, and the struct fits Go's 480-byte size
	// class (TestStructSizes).
	role     Role
	prevRole Role
	// sentTimeoutNow: this leader told a voter to campaign at once in this
	// term. That voter may win past every lease, whenever the message
	// arrives, so the lease is void for the rest of the term.
	sentTimeoutNow bool
	// bcastPending: the leader has new entries or a new commit index that
	// followers should learn in the next Ready.
	bcastPending bool
	quiesced     bool
	// leaderDead: ForgetLeader dropped lead in this term and no leader has
	// been heard from since; campaigns carry contextLeaderDead.
	leaderDead bool
}

// New returns a replica restored from cfg.Storage. A replica with an empty
// membership (a node about to be added) waits, as a follower, for the
// leader to send it a snapshot.
func New(cfg Config) (*Group, error) {
	cfg.ensureDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log, err := newLog(cfg.Storage, cfg.MaxCommittedBytesPerReady)
	if err != nil {
		return nil, err
	}
	hs, cs, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("raftgroup: initial state: %w", err)
	}
	g := &Group{
		id:    cfg.ID,
		group: cfg.Group,
		cfg:   cfg,
		log:   log,
		rng:   *rand.NewPCG(cfg.Seed, uint64(cfg.ID)<<32^uint64(cfg.Group)),
	}
	if hs.Commit > log.lastIndex() {
		return nil, fmt.Errorf("raftgroup: hard state commit %d beyond last index %d", hs.Commit, log.lastIndex())
	}
	g.term, g.vote, log.committed = hs.Term, hs.Vote, max(hs.Commit, log.committed)
	if cfg.Applied > 0 {
		if cfg.Applied > log.committed {
			return nil, fmt.Errorf("raftgroup: applied %d beyond commit %d", cfg.Applied, log.committed)
		}
		log.applied, log.applying = max(log.applied, cfg.Applied), max(log.applying, cfg.Applied)
	}
	g.trk.setConfig(cs, log.lastIndex()+1, &g.cfg, false)
	g.becomeFollower(g.term, raftpb.None)
	g.prevHard = g.hardState()
	g.prevLead, g.prevRole = g.lead, g.role
	return g, nil
}

// promotable reports whether this replica may campaign: it is a voter.
func (g *Group) promotable() bool { return g.trk.isVoter(g.id) }

func (g *Group) hardState() raftpb.HardState {
	return raftpb.HardState{Term: g.term, Vote: g.vote, Commit: g.log.committed}
}

func (g *Group) softState() SoftState { return SoftState{Lead: g.lead, Role: g.role} }

// send queues m for sending as soon as the Ready is handed out.
func (g *Group) send(m raftpb.Message) {
	g.stamp(&m)
	if g.msgs == nil {
		// A leader's broadcast, one message per peer, is the common batch:
		// size for it at once instead of growing through 1, 2, 4.
		g.msgs = make([]raftpb.Message, 0, max(len(g.trk.cs.Voters)+len(g.trk.cs.Learners)-1, 1))
	}
	g.msgs = append(g.msgs, m)
}

// sendAfterPersist queues m to be sent only once this Ready's hard state
// and entries are durable (votes, vote requests and append acks).
func (g *Group) sendAfterPersist(m raftpb.Message) {
	g.stamp(&m)
	g.msgsAfterPersist = append(g.msgsAfterPersist, m)
}

func (g *Group) stamp(m *raftpb.Message) {
	m.Group = g.group
	m.From = g.id
	if m.Term == 0 {
		m.Term = g.term
	}
}

func (g *Group) resetRandomizedTimeout() {
	// NB: the Rand wrapper stays on the stack; the draws are those of a
	// *rand.Rand kept over the same source.
	g.randomizedTimeout = int32(g.cfg.ElectionTicks + rand.New(&g.rng).IntN(g.cfg.ElectionTicks))
}

// reset moves to term (clearing the vote if the term changes) and clears
// per-term state.
func (g *Group) reset(term raftpb.Term) {
	if g.term != term {
		g.term = term
		g.vote = raftpb.None
	}
	g.lead = raftpb.None
	g.electionElapsed = 0
	g.heartbeatElapsed = 0
	g.resetRandomizedTimeout()
	g.leadTransferee = raftpb.None
	g.sentTimeoutNow = false
	g.trk.resetVotes()
	g.pendingConfIndex = 0
	g.uncommittedBytes = 0
	g.bcastPending = false
	g.reads.dropAll()
	// A lease is per term: rounds confirmed in an earlier leadership say
	// nothing about this one.
	g.reads.leaseFrom = g.reads.seq + 1
	// Progress is per term: becomeLeader makes it afresh.
	g.trk.untrack()
}

func (g *Group) becomeFollower(term raftpb.Term, lead raftpb.NodeID) {
	g.reset(term)
	g.role = Follower
	g.lead = lead
	if lead != raftpb.None {
		g.leaderDead = false
	}
}

func (g *Group) becomePreCandidate() {
	// NB: pre-candidacy changes neither term nor vote.
	g.role = PreCandidate
	g.trk.resetVotes()
	g.lead = raftpb.None
	g.quiesced = false
}

func (g *Group) becomeCandidate() {
	g.reset(g.term + 1)
	g.vote = g.id
	g.role = Candidate
	g.quiesced = false
}

func (g *Group) becomeLeader() {
	g.reset(g.term)
	g.role = Leader
	g.lead = g.id
	g.leaderDead = false
	g.quiesced = false
	// Every member probes from the end of the log, counted active.
	g.trk.track(g.log.lastIndex()+1, &g.cfg)
	if pr := g.trk.get(g.id); pr != nil {
		pr.match = g.log.stableLastIndex()
		pr.becomeReplicate()
	}
	// Changes proposed by an earlier leader may still be unapplied: wait
	// for everything in the log before accepting a new one.
	g.pendingConfIndex = g.log.lastIndex()
	// The empty entry commits this term's first index, which also commits
	// every earlier entry (figure 8) and enables reads.
	g.log.append(raftpb.Entry{Term: g.term, Index: g.log.lastIndex() + 1})
	g.bcastPending = true
}
