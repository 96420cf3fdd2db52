package rafttest

import (
	"fmt"
	"strings"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// LivenessTicks is how many ticks after faults heal the group has to elect
// a leader and apply a proposal on every member, in election timeouts.
//
// Why this bound: once every node is up, woken and fully connected (no
// drops, delays of at most one tick, so a vote round trip with its
// persists fits in a few ticks, well under the election timeout as Raft's
// timing assumption asks), a follower's lease on a departed leader lasts
// at most one election timeout and a leader without a quorum steps down
// within one. Every voter then times out within two election timeouts;
// an election fails only if another candidate times out within the few
// ticks the winner needs, which randomized timeouts make unlikely round
// after round (with pre-vote, candidates with stale logs cannot disrupt
// at all). Two timeouts for leases and check-quorum, twelve election
// rounds of two timeouts each, and four timeouts to catch up a lagging
// member (by snapshot if need be) give 30.
//
// Without pre-vote the bound is LivenessTicksNoPreVote: a voter whose log
// is too short to win still raises the term when it times out, deposing
// the candidate that could win and restarting every timer; only a round
// in which an up-to-date voter times out first and finishes before anyone
// else times out elects a leader. Measured over seeds 1-22,000: with
// pre-vote every heal took under 10 election timeouts; without, up to
// about 30. The test log names every seed slower than 10.
const LivenessTicks = 30

// LivenessTicksNoPreVote is LivenessTicks for runs without pre-vote.
const LivenessTicksNoPreVote = 60

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
	s.record(event{kind: evHeal, note: "all links up, no drops or duplicates, delays of a tick at most, every node restarted"})
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
	if s.cfg.DisablePreVote {
		bound = LivenessTicksNoPreVote * s.cfg.ElectionTicks
	}
	var p probeState
	for s.now-start <= bound {
		if err := s.drain(); err != nil {
			return err
		}
		if s.probeDone(&p) {
			took := float64(s.now-start) / float64(s.cfg.ElectionTicks)
			s.stats.LivenessTimeouts = max(s.stats.LivenessTimeouts, took)
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
