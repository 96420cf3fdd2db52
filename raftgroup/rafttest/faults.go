package rafttest

import "fmt"

// crash stops a random up node, losing what it had not made durable.
func (s *Simulator) crash() error {
	n := s.pick(func(n *node) bool { return n.up() })
	if n == nil {
		return nil
	}
	note := "nothing pending"
	if n.pending != nil {
		note = "pending Ready lost"
	}
	for _, id := range n.asked {
		delete(s.reads, id)
	}
	for _, id := range n.confirmed {
		delete(s.reads, id)
	}
	n.crash(s.now)
	s.stats.Crashes++
	s.record(event{kind: evCrash, node: n.id, note: note})
	return nil
}

// restart brings a random down node back from its durable state.
func (s *Simulator) restart() error {
	n := s.pick(func(n *node) bool { return !n.up() })
	if n == nil {
		return nil
	}
	return s.restartNode(n)
}

func (s *Simulator) restartNode(n *node) error {
	if err := n.start(s.groupConfig(n), s.chk, s.rng); err != nil {
		return s.fail("%v", err)
	}
	s.record(event{kind: evRestart, node: n.id, a: uint64(n.sm.durable.applied),
		note: fmt.Sprintf("hs=%d/%d/%d", n.hs.Term, n.hs.Vote, n.hs.Commit)})
	return nil
}

// partition changes the network's links: isolate one node (often the
// leader), split the nodes in two, cut every link into one node (it still
// sends: an asymmetric partition, often of the leader), cut one direction
// of one link, or heal every link.
func (s *Simulator) partition() error {
	cut := s.net.cut
	ids := len(s.nodes) - 1
	x := 1 + s.rng.IntN(ids)
	if l := s.leader(); l != nil && s.rng.IntN(2) == 0 {
		x = int(l.id)
	}
	switch s.rng.IntN(5) {
	case 0:
		for y := 1; y <= ids; y++ {
			cut[x][y], cut[y][x] = true, true
		}
		s.record(event{kind: evPartition, note: fmt.Sprintf("isolate n%d", x)})
	case 1:
		s.split(ids)
	case 2:
		for y := 1; y <= ids; y++ {
			cut[y][x] = true
		}
		s.record(event{kind: evPartition, note: fmt.Sprintf("cut every link into n%d", x)})
	case 3:
		y := 1 + s.rng.IntN(ids)
		cut[x][y] = true
		s.record(event{kind: evPartition, note: fmt.Sprintf("cut n%d->n%d", x, y)})
	default:
		for i := range cut {
			clear(cut[i])
		}
		s.record(event{kind: evPartition, note: "heal all links"})
	}
	return nil
}

// split cuts the nodes into two random sides.
func (s *Simulator) split(ids int) {
	side := make([]bool, ids+1)
	for i := 1; i <= ids; i++ {
		side[i] = s.rng.IntN(2) == 0
	}
	for x := 1; x <= ids; x++ {
		for y := 1; y <= ids; y++ {
			s.net.cut[x][y] = side[x] != side[y]
		}
	}
	s.record(event{kind: evPartition, note: fmt.Sprintf("split %v", side[1:])})
}
