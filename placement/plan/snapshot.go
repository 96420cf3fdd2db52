package plan

import (
	"math"
	"slices"
)

// nodeInfo is one node as the planner sees it. Nodes are kept sorted by ID,
// so comparing indexes compares IDs.
type nodeInfo struct {
	id       NodeID
	state    NodeState
	capacity uint64
	// live: may receive replicas and leaderships (State Live).
	live bool
	// up: its replicas vote (Live or Draining).
	up bool
	// lost: its replicas are replaced (Decommissioned, Suspect or Dead for
	// DeadTimeout or longer, or missing from Cluster.Nodes).
	lost bool
}

// shardInfo is one shard as the planner sees it, with node references as
// indexes into planner.nodes.
//
// Invariant: voters and learners are sorted, hold no duplicates and do not
// overlap; leader is -1 or an element of voters.
type shardInfo struct {
	id       ShardID
	epoch    uint64
	meta     bool
	voters   []int
	learners []int
	leader   int
	size     uint64
	rate     float64 // requests per second; 0 when the input was not a finite non-negative number
	// target is the configured voter count (Replicas or MetaReplicas).
	target int
	// busy: a move of this shard is in flight, so nothing is planned for it.
	busy bool
	// touched: an action for this shard was planned in this call.
	touched bool
	// upVoters counts voters on up nodes.
	upVoters int
}

// hasQuorum reports whether a majority of the shard's voters is up, which a
// membership change needs to commit.
func (s *shardInfo) hasQuorum() bool {
	return s.upVoters > len(s.voters)/2
}

// keepsQuorum reports whether removing one voter, up or not, leaves a
// majority of the remaining voters up.
func (s *shardInfo) keepsQuorum(up bool) bool {
	ups := s.upVoters
	if up {
		ups--
	}
	return len(s.voters) > 1 && ups > (len(s.voters)-1)/2
}

// holds reports whether node n holds a voter or learner of the shard.
func (s *shardInfo) holds(n int) bool {
	return slices.Contains(s.voters, n) || slices.Contains(s.learners, n)
}

// free reports whether the planner may plan an action for the shard.
func (s *shardInfo) free() bool { return !s.busy && !s.touched }

// load reads the cluster snapshot into p: nodes sorted and deduplicated
// (the first entry of an ID wins), unknown nodes added as lost, shards
// sorted and deduplicated the same way, and the per-node counts projected
// as if every in-flight move had finished.
func (p *planner) load(c Cluster) {
	p.byID = make(map[NodeID]int, len(c.Nodes))
	for _, n := range c.Nodes {
		if n.ID == 0 {
			continue
		}
		if _, dup := p.byID[n.ID]; dup {
			continue
		}
		p.byID[n.ID] = -1
		p.nodes = append(p.nodes, p.nodeInfo(n))
	}
	seen := func(id NodeID) {
		if _, ok := p.byID[id]; id != 0 && !ok {
			p.byID[id] = -1
			p.nodes = append(p.nodes, nodeInfo{id: id, state: Decommissioned, lost: true})
		}
	}
	for i := range c.Shards {
		for _, id := range c.Shards[i].Voters {
			seen(id)
		}
		for _, id := range c.Shards[i].Learners {
			seen(id)
		}
	}
	for _, m := range c.InFlight {
		seen(m.From)
		seen(m.To)
	}
	slices.SortFunc(p.nodes, func(a, b nodeInfo) int { return cmpID(a.id, b.id) })
	for i, n := range p.nodes {
		p.byID[n.id] = i
		if n.live {
			p.live = append(p.live, i)
		}
	}
	p.loadShards(c)
	p.project(c.InFlight)
}

func (p *planner) nodeInfo(n Node) nodeInfo {
	ni := nodeInfo{id: n.ID, state: n.State, capacity: n.Capacity}
	switch n.State {
	case Live:
		ni.live, ni.up = true, true
	case Draining:
		ni.up = true
	case Suspect, Dead:
		ni.lost = n.DownFor >= p.cfg.DeadTimeout
	case Decommissioned:
		ni.lost = true
	}
	// NB: an unknown State is treated like a Suspect node that has not
	// been down long: it receives nothing and keeps its replicas.
	return ni
}

func (p *planner) loadShards(c Cluster) {
	ids := make(map[ShardID]bool, len(c.Shards))
	p.shards = make([]shardInfo, 0, len(c.Shards))
	for i := range c.Shards {
		s := &c.Shards[i]
		if ids[s.ID] {
			continue
		}
		ids[s.ID] = true
		p.shards = append(p.shards, p.shardInfo(s))
	}
	slices.SortFunc(p.shards, func(a, b shardInfo) int { return cmpID(a.id, b.id) })
	p.byShard = make(map[ShardID]int, len(p.shards))
	for i := range p.shards {
		p.byShard[p.shards[i].id] = i
	}
}

func (p *planner) shardInfo(s *Shard) shardInfo {
	si := shardInfo{id: s.ID, epoch: s.Epoch, meta: s.Meta, leader: -1, size: s.SizeBytes}
	if r := s.RequestsPerSec; r > 0 && !math.IsInf(r, 0) {
		si.rate = r
	}
	si.target = p.cfg.Replicas
	if s.Meta {
		si.target = p.cfg.MetaReplicas
	}
	si.voters = p.indexes(s.Voters, nil)
	si.learners = p.indexes(s.Learners, si.voters)
	for _, v := range si.voters {
		if p.nodes[v].up {
			si.upVoters++
		}
		if p.nodes[v].id == s.Leader {
			si.leader = v
		}
	}
	return si
}

// indexes maps IDs to sorted, distinct node indexes, leaving out 0 and
// anything in exclude.
func (p *planner) indexes(ids []NodeID, exclude []int) []int {
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		if id == 0 {
			continue
		}
		out = append(out, p.byID[id])
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(n int) bool { return slices.Contains(exclude, n) })
}

// project fills the per-node replica and leader counts, marks shards with
// a move in flight busy, and charges in-flight moves to the move limits.
// Replica counts are projected: an in-flight move already counts on its
// target and no longer on its source.
func (p *planner) project(inflight []Move) {
	p.replicas = make([]int, len(p.nodes))
	p.leaders = make([]int, len(p.nodes))
	p.rates = make([]float64, len(p.nodes))
	p.movesPerNode = make([]int, len(p.nodes))
	p.voterOf = make([][]int, len(p.nodes))
	p.leaderOf = make([][]int, len(p.nodes))
	for i := range p.shards {
		s := &p.shards[i]
		for _, v := range s.voters {
			p.replicas[v]++
			p.voterOf[v] = append(p.voterOf[v], i)
		}
		for _, l := range s.learners {
			p.replicas[l]++
		}
		if s.leader >= 0 {
			p.leaders[s.leader]++
			p.rates[s.leader] += s.rate
			p.leaderOf[s.leader] = append(p.leaderOf[s.leader], i)
		}
	}
	for _, m := range inflight {
		from, to := p.node(m.From), p.node(m.To)
		if i, ok := p.byShard[m.Shard]; ok {
			s := &p.shards[i]
			s.busy = true
			if from >= 0 && s.holds(from) {
				p.replicas[from]--
			}
			if to >= 0 && !s.holds(to) {
				p.replicas[to]++
			}
		}
		p.charge(from, to)
	}
}

// node returns the index of a node ID, or -1 for 0.
func (p *planner) node(id NodeID) int {
	if id == 0 {
		return -1
	}
	return p.byID[id]
}

func cmpID[T ~uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
