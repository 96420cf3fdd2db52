package rafttest

import (
	"fmt"
	"strings"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// LivenessTicks is how many ticks after faults heal the group has to elect
// a leader and commit a proposal on every member, in election timeouts.
//
// Why this bound: once every node is up, woken and fully connected (no
// drops, delays of at most MaxDelayTicks <= 3), a follower's lease on a
// departed leader lasts at most one election timeout and an elected
// leader without a quorum steps down within two. Every voter then times
// out within two election timeouts; an election needs a pre-vote and a
// vote round trip (a few ticks), and fails only if two candidates time
// out within those few ticks of each other, which randomized timeouts
// make unlikely round after round. Allowing 2 timeouts for leases and
// check-quorum, 8 election rounds of 2 timeouts each, and 4 timeouts for
// a lagging member to be caught up (by snapshot if need be) gives 22.
const LivenessTicks = 22

// maxDrainSteps bounds the work done between two ticks during the
// liveness phase; exceeding it means the replicas exchange messages
// without end.
const maxDrainSteps = 20000

// probeState tracks the proposal the liveness phase waits for.
type probeState struct {
	leader raftpb.NodeID
	term   raftpb.Term
	index  raftpb.Index
	data   string
}

// healAndCheckLiveness ends every fault, restarts and wakes every node, and
// then requires a leader to be elected and a proposal to be applied by
// every member within LivenessTicks election timeouts.
func (s *Simulator) healAndCheckLiveness() error {
	s.net.heal()
	s.record(event{kind: evHeal, note: "all links up, no drops or duplicates, every node restarted"})
	for _, n := range s.nodes[1:] {
		if !n.up() {
			if err := s.restartNode(n); err != nil {
				return err
			}
		}
		n.g.Wake()
	}
	start := s.now
	bound := LivenessTicks * s.cfg.ElectionTicks
	var p probeState
	for s.now-start <= bound {
		if err := s.drain(); err != nil {
			return err
		}
		if s.probeDone(&p) {
			s.stats.LivenessTicks = s.now - start
			return nil
		}
		s.maybeProbe(&p)
		s.step++
		if err := s.tick(); err != nil {
			return err
		}
		if err := s.afterStep(); err != nil {
			return err
		}
	}
	return s.fail("liveness: %d ticks after faults healed, no proposal was applied by every member (%s)", bound, s.describe())
}

// drain delivers messages, hands out Readys and completes persists, in
// random order, until nothing is left to do before the next tick.
func (s *Simulator) drain() error {
	for range maxDrainSteps {
		var w [numActions]int
		w[actDeliver] = s.net.deliverable(s.now)
		for _, n := range s.nodes[1:] {
			if n.pending != nil {
				w[actPersist]++
			} else if n.g.HasReady() {
				w[actReady]++
			}
		}
		total := w[actDeliver] + w[actPersist] + w[actReady]
		if total == 0 {
			return nil
		}
		s.step++
		var err error
		switch r := s.rng.IntN(total); {
		case r < w[actDeliver]:
			err = s.deliverOne()
		case r < w[actDeliver]+w[actPersist]:
			err = s.persistOne()
		default:
			err = s.readyOne()
		}
		if err == nil {
			err = s.afterStep()
		}
		if err != nil {
			return err
		}
	}
	return s.fail("liveness: replicas still busy after %d steps without a tick", maxDrainSteps)
}

// maybeProbe proposes a probe at the current leader unless one is already
// outstanding in its term.
func (s *Simulator) maybeProbe(p *probeState) {
	l := s.leader()
	if l == nil || (p.leader == l.id && p.term == l.g.Term()) {
		return
	}
	s.nextValue++
	data := writeData("probe", fmt.Sprintf("v%d", s.nextValue))
	idx, term, err := l.g.Propose(data)
	s.record(event{kind: evPropose, node: l.id, a: uint64(idx), b: uint64(term), note: string(data)})
	if err == nil {
		*p = probeState{leader: l.id, term: term, index: idx, data: string(data)}
	}
}

// probeDone reports whether the probe is committed and applied by every
// member of the leader's configuration.
func (s *Simulator) probeDone(p *probeState) bool {
	if p.index == 0 || p.index > s.chk.lastCommitted() || string(s.chk.canon[p.index].entry.Data) != p.data {
		return false
	}
	l := s.leader()
	if l == nil {
		return false
	}
	cs := l.g.ConfState()
	for _, ids := range [][]raftpb.NodeID{cs.Voters, cs.VotersOutgoing, cs.Learners, cs.LearnersNext} {
		for _, id := range ids {
			if n := s.nodes[id]; !n.up() || n.sm.live.applied < p.index {
				return false
			}
		}
	}
	return true
}

// describe summarizes every replica, for liveness failures.
func (s *Simulator) describe() string {
	var b strings.Builder
	for _, n := range s.nodes[1:] {
		if !n.up() {
			fmt.Fprintf(&b, "n%d down; ", n.id)
			continue
		}
		st := n.g.Status()
		fmt.Fprintf(&b, "n%d %v term %d lead %d commit %d applied %d last %d conf %v quiet %t; ",
			n.id, st.SoftState.Role, st.HardState.Term, st.SoftState.Lead, st.HardState.Commit, n.sm.live.applied, st.LastIndex, st.Config, st.Quiesced)
		for _, id := range st.Config.Voters {
			if pr, ok := st.Progress[id]; ok {
				fmt.Fprintf(&b, "[n%d %v match %d next %d inflight %d active %t] ", id, pr.State, pr.Match, pr.Next, pr.Inflight, pr.RecentActive)
			}
		}
	}
	return b.String()
}
