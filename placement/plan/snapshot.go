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
	p.nodes = make([]nodeInfo, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		if n.ID != 0 {
			p.nodes = append(p.nodes, p.nodeInfo(n))
		}
	}
	p.sortNodes()
	var unknown []NodeID
	note := func(ids ...NodeID) {
		for _, id := range ids {
			if id != 0 && p.index(id) < 0 {
				unknown = append(unknown, id)
			}
		}
	}
	ids := 0
	for i := range c.Shards {
		note(c.Shards[i].Voters...)
		note(c.Shards[i].Learners...)
		ids += len(c.Shards[i].Voters) + len(c.Shards[i].Learners)
	}
	for _, m := range c.InFlight {
		note(m.From, m.To)
	}
	if len(unknown) > 0 {
		for _, id := range unknown {
			p.nodes = append(p.nodes, nodeInfo{id: id, state: Decommissioned, lost: true})
		}
		p.sortNodes()
	}
	for i, n := range p.nodes {
		if n.live {
			p.live = append(p.live, i)
		}
	}
	p.arena = make([]int, 0, ids)
	p.loadShards(c)
	p.project(c.InFlight)
}

// sortNodes sorts p.nodes by ID, drops repeated IDs (keeping the first),
// and indexes them.
func (p *planner) sortNodes() {
	slices.SortStableFunc(p.nodes, func(a, b nodeInfo) int { return cmpID(a.id, b.id) })
	p.nodes = slices.CompactFunc(p.nodes, func(a, b nodeInfo) bool { return a.id == b.id })
	p.dense = nil
	if k := len(p.nodes); k > 0 && p.nodes[k-1].id < NodeID(8*k+1024) {
		// Small IDs, the usual case: a table beats a search.
		p.dense = make([]int32, p.nodes[k-1].id+1)
		for i := range p.dense {
			p.dense[i] = -1
		}
		for i, n := range p.nodes {
			p.dense[n.id] = int32(i)
		}
	}
}

// index returns the index of node id in p.nodes, or -1.
func (p *planner) index(id NodeID) int {
	if p.dense != nil {
		if id < NodeID(len(p.dense)) {
			return int(p.dense[id])
		}
		return -1
	}
	i, ok := slices.BinarySearchFunc(p.nodes, id, func(n nodeInfo, id NodeID) int { return cmpID(n.id, id) })
	if !ok {
		return -1
	}
	return i
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

// loadShards fills p.shards in ID order, keeping the first of repeated IDs.
func (p *planner) loadShards(c Cluster) {
	byID := func(a, b Shard) int { return cmpID(a.ID, b.ID) }
	order := make([]int, len(c.Shards))
	for i := range order {
		order[i] = i
	}
	if !slices.IsSortedFunc(c.Shards, byID) {
		slices.SortStableFunc(order, func(a, b int) int { return byID(c.Shards[a], c.Shards[b]) })
	}
	p.shards = make([]shardInfo, 0, len(c.Shards))
	for _, i := range order {
		s := &c.Shards[i]
		if k := len(p.shards); k > 0 && p.shards[k-1].id == s.ID {
			continue
		}
		p.shards = append(p.shards, p.shardInfo(s))
	}
}

// shardIndex returns the index of shard id in p.shards, or -1.
func (p *planner) shardIndex(id ShardID) int {
	i, ok := slices.BinarySearchFunc(p.shards, id, func(s shardInfo, id ShardID) int { return cmpID(s.id, id) })
	if !ok {
		return -1
	}
	return i
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
// anything in exclude. The result lives in p.arena, one allocation for all
// shards.
func (p *planner) indexes(ids []NodeID, exclude []int) []int {
	start := len(p.arena)
	for _, id := range ids {
		if id != 0 {
			p.arena = append(p.arena, p.index(id))
		}
	}
	out := p.arena[start:]
	slices.Sort(out)
	out = slices.Compact(out)
	out = slices.DeleteFunc(out, func(n int) bool { return slices.Contains(exclude, n) })
	p.arena = p.arena[:start+len(out)]
	return out[:len(out):len(out)]
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
	nvoters := make([]int, len(p.nodes))
	for i := range p.shards {
		s := &p.shards[i]
		for _, v := range s.voters {
			p.replicas[v]++
			nvoters[v]++
		}
		for _, l := range s.learners {
			p.replicas[l]++
		}
		if s.leader >= 0 {
			p.leaders[s.leader]++
			p.rates[s.leader] += s.rate
		}
	}
	p.voterOf = carve(nvoters)
	p.leaderOf = carve(p.leaders)
	for i := range p.shards {
		s := &p.shards[i]
		for _, v := range s.voters {
			p.voterOf[v] = append(p.voterOf[v], i)
		}
		if s.leader >= 0 {
			p.leaderOf[s.leader] = append(p.leaderOf[s.leader], i)
		}
	}
	for _, m := range inflight {
		from, to := p.node(m.From), p.node(m.To)
		if i := p.shardIndex(m.Shard); i >= 0 {
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
	return p.index(id)
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

// carve returns empty slices with capacities sizes[i], all cut from one
// backing array.
func carve(sizes []int) [][]int {
	total := 0
	for _, k := range sizes {
		total += k
	}
	all := make([]int, total)
	out := make([][]int, len(sizes))
	for i, k := range sizes {
		out[i], all = all[:0:k], all[k:]
	}
	return out
}
