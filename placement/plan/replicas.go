package plan

import "slices"

// balanceReplicas moves replicas from the Live nodes with the most to the
// Live nodes with the fewest until every Live node's replica count is in
// its band (see band.shouldMove), within the move limits.
func (p *planner) balanceReplicas() {
	if len(p.live) < 2 {
		return
	}
	total := 0
	for _, n := range p.live {
		total += p.replicas[n]
	}
	b := countBand(total, len(p.live), p.cfg.Tolerance)
	src, dst := slices.Clone(p.live), slices.Clone(p.live)
	for p.moves < p.cfg.MaxMoves {
		slices.SortFunc(src, func(x, y int) int {
			if p.replicas[x] != p.replicas[y] {
				return p.replicas[y] - p.replicas[x]
			}
			return x - y
		})
		slices.SortFunc(dst, func(x, y int) int {
			switch {
			case p.betterTarget(x, y):
				return -1
			case p.betterTarget(y, x):
				return 1
			}
			return 0
		})
		if !p.moveOneReplica(src, dst, b) {
			return
		}
	}
}

func (p *planner) moveOneReplica(src, dst []int, b band) bool {
	for _, s := range src {
		for _, t := range dst {
			if p.replicas[s]-p.replicas[t] < 2 {
				break
			}
			if !b.shouldMove(p.replicas[s], p.replicas[t]) || !p.canMove(s, t) {
				continue
			}
			if i := p.pickReplica(s, t); i >= 0 {
				p.emit(MoveReplica, &p.shards[i], s, t, "replica count outside the band")
				return true
			}
		}
	}
	return false
}

// pickReplica returns the shard whose voter on s should move to t: a
// healthy shard (see balanceable) not already on t, preferring one that s
// does not lead, then the smallest, then the lowest ID; -1 if none.
func (p *planner) pickReplica(s, t int) int {
	best := -1
	for _, i := range p.voterOf[s] {
		sh := &p.shards[i]
		if sh.holds(t) || !p.balanceable(sh) {
			continue
		}
		if best < 0 || p.preferToMove(sh, &p.shards[best], s) {
			best = i
		}
	}
	return best
}

func (p *planner) preferToMove(a, b *shardInfo, s int) bool {
	if (a.leader == s) != (b.leader == s) {
		return b.leader == s
	}
	return a.size < b.size
}

// balanceable reports whether balancing may move one of s's replicas: s is
// free, has no learners, and has as many voters as it can have, all Live.
func (p *planner) balanceable(s *shardInfo) bool {
	if !s.free() || len(s.learners) > 0 || len(s.voters) < p.placeable(s) {
		return false
	}
	for _, v := range s.voters {
		if !p.nodes[v].live {
			return false
		}
	}
	return true
}
