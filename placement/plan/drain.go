package plan

// drain empties Draining nodes, in shard order. A shard led from a
// Draining node first has its leadership transferred to a Live voter (the
// one with the fewest leaderships); its replica moves in a later call. A
// shard with no Live voter to lead it has the replica moved first. A
// replica no Live node can take is removed if the shard keeps
// min(target, Live nodes) up voters and a quorum of up voters, and
// otherwise stays until a node can take it.
func (p *planner) drain() {
	for i := range p.shards {
		s := &p.shards[i]
		if !s.free() || len(s.learners) > 0 || !s.hasQuorum() {
			continue
		}
		d := p.drainingVoter(s)
		if d < 0 {
			continue
		}
		if s.leader == d {
			if to := p.pickLeader(s); to >= 0 {
				if p.transfers < p.cfg.MaxLeaderTransfers {
					p.emit(TransferLeader, s, d, to, "leader on a draining node")
				}
				continue
			}
		}
		to, exists := p.pickTarget(s, d)
		switch {
		case to >= 0:
			p.emit(MoveReplica, s, d, to, "voter on a draining node")
		case !exists && s.upVoters > p.placeable(s) && s.keepsQuorum(true) && p.canMove(d, -1):
			p.emit(RemoveReplica, s, d, -1, "voter on a draining node, and no live node can take its place")
		}
	}
}

// drainingVoter returns the first voter of s on a Draining node, or -1.
func (p *planner) drainingVoter(s *shardInfo) int {
	for _, v := range s.voters {
		if n := &p.nodes[v]; n.up && !n.live {
			return v
		}
	}
	return -1
}
