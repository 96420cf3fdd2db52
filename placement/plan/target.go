package plan

// pickTarget returns the best Live node for a new replica of s whose move
// (from -> target, from may be -1) fits the limits, or -1. exists reports
// whether some Live node could take the replica were the limits not full.
// Best is fewest replicas, then most capacity, then lowest ID.
func (p *planner) pickTarget(s *shardInfo, from int) (target int, exists bool) {
	target = -1
	for _, n := range p.live {
		if s.holds(n) {
			continue
		}
		exists = true
		if !p.canMove(from, n) {
			continue
		}
		if target < 0 || p.betterTarget(n, target) {
			target = n
		}
	}
	return target, exists
}

// betterTarget reports whether a is a better target for a replica than b.
func (p *planner) betterTarget(a, b int) bool {
	if p.replicas[a] != p.replicas[b] {
		return p.replicas[a] < p.replicas[b]
	}
	if p.nodes[a].capacity != p.nodes[b].capacity {
		return p.nodes[a].capacity > p.nodes[b].capacity
	}
	return a < b
}

// pickLeader returns the Live voter of s, other than its leader, with the
// fewest leaderships (then lowest ID), or -1.
func (p *planner) pickLeader(s *shardInfo) int {
	best := -1
	for _, v := range s.voters {
		if v == s.leader || !p.nodes[v].live {
			continue
		}
		if best < 0 || p.leaders[v] < p.leaders[best] {
			best = v
		}
	}
	return best
}
