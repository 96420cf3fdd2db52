package rafttest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Failure is a broken property, with what is needed to replay it.
type Failure struct {
	Seed   uint64
	Config Config
	Step   int
	Tick   int
	Reason string
	// Trace holds the last events before the failure, oldest first.
	Trace []string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("seed %d, step %d, tick %d: %s\nconfig: %v\nlast events:\n  %s",
		f.Seed, f.Step, f.Tick, f.Reason, f.Config, strings.Join(f.Trace, "\n  "))
}

// Stats summarizes a run, for the test log.
type Stats struct {
	Steps, Ticks, Committed, Elections int
	Sent, Dropped, Delivered           int
	Crashes, Snapshots, Reads          int
	// LivenessTimeouts is the longest a heal took to elect a leader and
	// apply a proposal everywhere, in election timeouts.
	LivenessTimeouts float64
}

// readReq is a linearizable read in progress.
type readReq struct {
	node raftpb.NodeID
	key  string
	// floor is the last index applied anywhere when the read began; the
	// read must see at least that state. keyFloor is the last committed
	// write to key at that time.
	floor, keyFloor raftpb.Index
	index           raftpb.Index // the confirmed read index (0 until then)
}

// Simulator runs one seeded simulation. It is single-threaded and uses no
// clock: time is the tick counter.
type Simulator struct {
	cfg   Config
	rng   *rand.Rand
	nodes []*node // indexed by NodeID; nodes[0] is nil
	net   *network
	chk   *checker
	trace trace
	keys  []string

	step, now int
	reads     map[uint64]*readReq
	nextRead  uint64
	nextValue uint64
	stats     Stats
}

// Run simulates cfg and returns a *Failure if a property broke.
func Run(cfg Config) (Stats, error) {
	st, _, err := RunTrace(cfg)
	return st, err
}

// RunTrace is Run that also returns the last cfg.TraceEvents events, for
// studying a run that passes.
func RunTrace(cfg Config) (Stats, []string, error) {
	s, err := newSimulator(cfg)
	if err != nil {
		return Stats{}, nil, err
	}
	err = s.run()
	s.stats.Steps, s.stats.Ticks = s.step, s.now
	s.stats.Sent, s.stats.Dropped, s.stats.Delivered = s.net.sent, s.net.dropped, s.net.delivered
	s.stats.Committed = int(s.chk.lastCommitted())
	s.stats.Elections = len(s.chk.leaders)
	return s.stats, s.trace.lines(), err
}

func newSimulator(cfg Config) (*Simulator, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x51a7))
	maxNodes := cfg.Nodes + cfg.MaxAddedNodes
	s := &Simulator{cfg: cfg, rng: rng, net: newNetwork(rng, cfg, maxNodes), trace: newTrace(cfg.TraceEvents),
		keys: simKeys(), reads: map[uint64]*readReq{}, nodes: make([]*node, 1, maxNodes+1)}
	var cs raftpb.ConfState
	for id := 1; id <= cfg.Nodes; id++ {
		cs.Voters = append(cs.Voters, raftpb.NodeID(id))
	}
	s.chk = newChecker(cs)
	for range cfg.Nodes {
		if err := s.addNode(cs); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// addNode creates and starts the next node with membership cs (empty for
// a replica about to be added, which waits for the leader).
func (s *Simulator) addNode(cs raftpb.ConfState) error {
	n := newNode(raftpb.NodeID(len(s.nodes)), cs)
	if s.cfg.DriftTicks > 0 {
		n.driftEvery = s.cfg.DriftTicks + s.rng.IntN(s.cfg.DriftTicks)
		n.drift = 2*s.rng.IntN(2) - 1
	}
	s.nodes = append(s.nodes, n)
	if err := n.start(s.groupConfig(n), s.chk, s.rng); err != nil {
		return s.fail("%v", err)
	}
	return nil
}

func (s *Simulator) groupConfig(n *node) raftgroup.Config {
	return raftgroup.Config{
		ElectionTicks:             s.cfg.ElectionTicks,
		HeartbeatTicks:            1,
		MaxMsgBytes:               s.cfg.MaxMsgBytes,
		MaxInflightMsgs:           s.cfg.MaxInflightMsgs,
		LeaseReads:                s.cfg.LeaseReads,
		DisableQuiesce:            s.cfg.DisableQuiesce,
		LazyCommit:                s.cfg.LazyCommit,
		DisablePreVote:            s.cfg.DisablePreVote,
		DisableCheckQuorum:        s.cfg.DisableCheckQuorum,
		MaxCommittedBytesPerReady: s.cfg.MaxCommittedBytesPerReady,
		MaxUncommittedBytes:       s.cfg.MaxUncommittedBytes,
		Seed:                      s.cfg.Seed ^ uint64(n.incarnation)<<32,
	}
}

func (s *Simulator) fail(format string, args ...any) error {
	return &Failure{Seed: s.cfg.Seed, Config: s.cfg, Step: s.step, Tick: s.now,
		Reason: fmt.Sprintf(format, args...), Trace: s.trace.lines()}
}

func (s *Simulator) record(e event) {
	e.step, e.tick = s.step, s.now
	s.trace.add(e)
}

// run alternates rounds of chaos with heals: each round takes RoundSteps
// random steps under faults, then heals everything and checks liveness.
func (s *Simulator) run() error {
	chaos := 0
	for chaos < s.cfg.Steps {
		s.net.dropRate, s.net.dupRate, s.net.maxDelay = s.cfg.DropRate, s.cfg.DupRate, s.cfg.MaxDelayTicks
		for i := 0; i < s.cfg.RoundSteps && chaos < s.cfg.Steps; i++ {
			chaos++
			s.step++
			if err := s.chaosStep(); err != nil {
				return s.asFailure(err)
			}
			if err := s.afterStep(); err != nil {
				return s.asFailure(err)
			}
		}
		if err := s.healAndCheckLiveness(); err != nil {
			return s.asFailure(err)
		}
	}
	return nil
}

// asFailure wraps a plain error from a check into a *Failure.
func (s *Simulator) asFailure(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*Failure); ok {
		return err
	}
	return s.fail("%v", err)
}

// afterStep runs the checks due after every step: election safety, and the
// running maximum term that leader completeness is measured against.
func (s *Simulator) afterStep() error {
	for _, n := range s.nodes[1:] {
		var term raftpb.Term
		if n.up() {
			term = n.g.Term()
			if n.g.Role() == raftgroup.Leader {
				if err := s.chk.leader(term, n.id); err != nil {
					return err
				}
			}
		} else {
			term = n.store.HardState().Term
		}
		s.chk.termSeen = max(s.chk.termSeen, term)
	}
	return nil
}

// leader returns the up replica that believes it leads the highest term,
// or nil.
func (s *Simulator) leader() *node {
	var best *node
	for _, n := range s.nodes[1:] {
		if n.up() && n.g.Role() == raftgroup.Leader && (best == nil || n.g.Term() > best.g.Term()) {
			best = n
		}
	}
	return best
}

// pick returns a random element of the nodes satisfying ok, or nil.
func (s *Simulator) pick(ok func(*node) bool) *node {
	var chosen *node
	k := 0
	for _, n := range s.nodes[1:] {
		if ok(n) {
			k++
			if s.rng.IntN(k) == 0 {
				chosen = n
			}
		}
	}
	return chosen
}
