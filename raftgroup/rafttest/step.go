package rafttest

import "github.com/flotilladb/flotilla/raftgroup"

// action is one kind of simulation step.
type action uint8

const (
	actDeliver action = iota
	actReady
	actPersist
	actTick
	actPropose
	actRead
	actConfChange
	actTransfer
	actCompact
	actCrash
	actRestart
	actPartition
	numActions
)

// weights returns how likely each action is now. Work that is waiting
// (messages, Readys, persists) weighs in proportion to how much there is,
// so the system keeps up with the clock; faults weigh what the config
// says.
func (s *Simulator) weights() [numActions]int {
	var w [numActions]int
	var ready, pending, down int
	for _, n := range s.nodes[1:] {
		switch {
		case !n.up():
			down++
		case n.pending != nil:
			pending++
		case n.g.HasReady():
			ready++
		}
	}
	w[actDeliver] = 10 * min(s.net.deliverable(s.now), 40)
	w[actReady] = 10 * ready
	w[actPersist] = 8 * pending
	w[actTick] = 8
	w[actPropose] = 15
	w[actRead] = 7
	w[actConfChange] = 2
	w[actTransfer] = 2
	w[actCompact] = 2
	w[actCrash] = s.cfg.CrashWeight
	w[actRestart] = 2 * down
	w[actPartition] = s.cfg.PartitionWeight
	return w
}

func (s *Simulator) chooseAction() action {
	w := s.weights()
	total := 0
	for _, x := range w {
		total += x
	}
	r := s.rng.IntN(total)
	for a, x := range w {
		if r < x {
			return action(a)
		}
		r -= x
	}
	return actTick
}

// chaosStep takes one random step of the run before faults heal.
func (s *Simulator) chaosStep() error {
	switch s.chooseAction() {
	case actDeliver:
		return s.deliverOne()
	case actReady:
		return s.readyOne()
	case actPersist:
		return s.persistOne()
	case actTick:
		return s.tick()
	case actPropose:
		return s.propose()
	case actRead:
		return s.read()
	case actConfChange:
		return s.confChange()
	case actTransfer:
		return s.transfer()
	case actCompact:
		return s.compact()
	case actCrash:
		return s.crash()
	case actRestart:
		return s.restart()
	case actPartition:
		return s.partition()
	}
	return nil
}

func (s *Simulator) readyOne() error {
	n := s.pick(func(n *node) bool { return n.up() && n.pending == nil && n.g.HasReady() })
	if n == nil {
		return nil
	}
	return s.ready(n)
}

func (s *Simulator) persistOne() error {
	n := s.pick(func(n *node) bool { return n.up() && n.pending != nil })
	if n == nil {
		return nil
	}
	return s.persist(n)
}

// tick advances every up replica's clock by one tick, and runs the hosts'
// failure detectors.
func (s *Simulator) tick() error {
	s.now++
	s.record(event{kind: evTick})
	for _, n := range s.nodes[1:] {
		if !n.up() {
			continue
		}
		ticks := 1
		if n.driftEvery > 0 && s.now%n.driftEvery == 0 {
			ticks += n.drift // this node's clock runs a little fast or slow
		}
		for range ticks {
			n.g.Tick()
		}
	}
	s.detectFailures()
	return nil
}

// detectFailures wakes a quiet follower whose leader has been down or cut
// off from it for an election timeout, as the node runtime does when
// memberlist declares the leader's node dead.
func (s *Simulator) detectFailures() {
	for _, n := range s.nodes[1:] {
		if !n.up() || !n.g.Quiesced() || n.g.Role() == raftgroup.Leader {
			if n.up() {
				n.orphanTicks = 0
			}
			continue
		}
		lead := n.g.Leader()
		if int(lead) < len(s.nodes) && lead != 0 && s.nodes[lead].up() && !s.net.blocked(lead, n.id) {
			n.orphanTicks = 0
			continue
		}
		n.orphanTicks++
		if n.orphanTicks >= s.cfg.ElectionTicks {
			n.orphanTicks = 0
			n.g.Wake()
			s.record(event{kind: evWake, node: n.id, note: "leader unreachable"})
		}
	}
}
