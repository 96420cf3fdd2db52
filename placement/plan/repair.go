package plan

import "slices"

// repair plans the changes that restore a shard's replication, most urgent
// first: the meta shard, then shards by how many up voters they lack.
// A shard gets at most one of, in this order: removal of a learner no move
// is using, replacement of a voter on a lost node, a new voter when it has
// too few, removal of a voter when it has too many. A shard without a
// quorum of up voters is left alone: no membership change could commit.
func (p *planner) repair() {
	var todo []int
	for i := range p.shards {
		s := &p.shards[i]
		if s.free() && len(s.voters) > 0 && s.hasQuorum() && p.needsRepair(s) {
			todo = append(todo, i)
		}
	}
	slices.SortFunc(todo, func(a, b int) int {
		sa, sb := &p.shards[a], &p.shards[b]
		if sa.meta != sb.meta {
			if sa.meta {
				return -1
			}
			return 1
		}
		if da, db := sa.upVoters-sa.target, sb.upVoters-sb.target; da != db {
			return da - db
		}
		return cmpID(sa.id, sb.id)
	})
	for _, i := range todo {
		if p.moves >= p.cfg.MaxMoves {
			return
		}
		p.repairShard(&p.shards[i])
	}
}

func (p *planner) needsRepair(s *shardInfo) bool {
	return len(s.learners) > 0 || p.lostVoter(s) >= 0 || len(s.voters) != s.target
}

// lostVoter returns the first voter of s on a lost node, or -1.
func (p *planner) lostVoter(s *shardInfo) int {
	for _, v := range s.voters {
		if p.nodes[v].lost {
			return v
		}
	}
	return -1
}

// placeable returns how many voters s can have: its target, capped by the
// number of Live nodes.
func (p *planner) placeable(s *shardInfo) int {
	return min(s.target, len(p.live))
}

func (p *planner) repairShard(s *shardInfo) {
	if len(s.learners) > 0 {
		l := s.learners[0]
		if p.canMove(l, -1) {
			p.emit(RemoveReplica, s, l, -1, "learner with no move in flight")
		}
		return
	}
	if lost := p.lostVoter(s); lost >= 0 {
		p.replaceLost(s, lost)
		return
	}
	if len(s.voters) < s.target {
		if to, _ := p.pickTarget(s, -1); to >= 0 {
			p.emit(AddReplica, s, -1, to, "shard has fewer voters than its target")
		}
		return
	}
	if len(s.voters) > s.target {
		if v := p.pickExcess(s); v >= 0 && p.canMove(v, -1) {
			p.emit(RemoveReplica, s, v, -1, "shard has more voters than its target")
		}
	}
}

// replaceLost moves the voter on a lost node to a Live node; when no Live
// node could take it, or the shard has voters to spare, it removes the
// voter instead, provided the shard keeps as many up voters as it can have.
func (p *planner) replaceLost(s *shardInfo, lost int) {
	if len(s.voters) > s.target {
		if s.keepsQuorum(false) && p.canMove(lost, -1) {
			p.emit(RemoveReplica, s, lost, -1, "voter on a lost node, and the shard has more voters than its target")
		}
		return
	}
	to, exists := p.pickTarget(s, lost)
	if to >= 0 {
		p.emit(MoveReplica, s, lost, to, "voter on a lost node")
		return
	}
	if !exists && s.upVoters >= p.placeable(s) && s.keepsQuorum(false) && p.canMove(lost, -1) {
		p.emit(RemoveReplica, s, lost, -1, "voter on a lost node, and no live node can take its place")
	}
}

// pickExcess returns the voter of s to remove when s has more voters than
// its target: one on a node that is not up, else one on a Draining node,
// else the non-leader Live voter on the node with the most replicas (then
// the lowest ID); -1 when removing an up voter would leave s with fewer up
// voters than its target or without a quorum of up voters.
func (p *planner) pickExcess(s *shardInfo) int {
	best, bestRank := -1, 0
	for _, v := range s.voters {
		n := &p.nodes[v]
		rank := 0 // higher is removed first
		switch {
		case !n.up:
			rank = 3
		case !n.live:
			rank = 2
		case v != s.leader:
			rank = 1
		}
		if best < 0 || rank > bestRank || rank == bestRank && p.replicas[v] > p.replicas[best] {
			best, bestRank = v, rank
		}
	}
	if best >= 0 && p.nodes[best].up && (s.upVoters <= s.target || !s.keepsQuorum(true)) {
		return -1
	}
	return best
}
