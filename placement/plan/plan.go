package plan

// Plan returns the actions that move the cluster towards its placement
// goals, most urgent first: repairs, drains, splits, replica balance,
// leader balance, load balance (see the package doc for the rules). It is a
// pure function: the same snapshot and Config give the same actions, in the
// same order. It plans at most one action per shard, nothing for a shard
// with a move in flight, and nothing at all when cfg does not validate.
func Plan(c Cluster, cfg Config) []Action {
	cfg.EnsureDefaults()
	if cfg.Validate() != nil {
		return nil
	}
	p := &planner{cfg: cfg}
	p.load(c)
	p.repair()
	p.drain()
	p.split()
	p.balanceReplicas()
	p.balanceLeaders()
	if cfg.BalanceLoad {
		p.balanceLoad()
	}
	return p.actions
}

// planner holds one call's view of the cluster and what it has planned so
// far. Counts are updated as actions are planned, so later rules see the
// cluster as if earlier actions had finished.
type planner struct {
	cfg    Config
	nodes  []nodeInfo // sorted by ID, distinct
	dense  []int32    // node ID -> index in nodes (-1: none), when IDs are small; else nil
	live   []int      // indexes of Live nodes, ascending
	shards []shardInfo
	arena  []int // backing array of every shard's voters and learners

	replicas []int     // per node: voters and learners, in-flight moves finished
	leaders  []int     // per node: shards it leads
	rates    []float64 // per node: requests per second of the shards it leads
	voterOf  [][]int   // per node: shards it is a voter of
	leaderOf [][]int   // per node: shards it leads

	movesPerNode []int // per node: moves in flight or planned that count against it
	moves        int   // moves in flight or planned
	transfers    int   // leader transfers planned
	splits       int   // splits planned

	actions []Action
}

// counts reports whether a move end on node n counts against
// MaxMovesPerNode: a lost node does no work in a move, so moves off it are
// limited by their targets and by MaxMoves alone.
func (p *planner) counts(n int) bool { return n >= 0 && !p.nodes[n].lost }

// canMove reports whether a move between from and to (either may be -1)
// fits within the move limits.
func (p *planner) canMove(from, to int) bool {
	if p.moves >= p.cfg.MaxMoves {
		return false
	}
	for _, n := range [2]int{from, to} {
		if p.counts(n) && p.movesPerNode[n] >= p.cfg.MaxMovesPerNode {
			return false
		}
	}
	return true
}

// charge counts a move between from and to against the limits.
func (p *planner) charge(from, to int) {
	p.moves++
	for _, n := range [2]int{from, to} {
		if p.counts(n) {
			p.movesPerNode[n]++
		}
	}
}

// emit records an action for shard s and updates the counts as if it had
// finished. Moves must have been checked with canMove first.
func (p *planner) emit(kind ActionKind, s *shardInfo, from, to int, reason string) {
	a := Action{Kind: kind, Shard: s.id, Epoch: s.epoch, Reason: reason}
	if from >= 0 {
		a.From = p.nodes[from].id
	}
	if to >= 0 {
		a.To = p.nodes[to].id
	}
	p.actions = append(p.actions, a)
	s.touched = true
	switch {
	case kind.isMove():
		p.charge(from, to)
		if from >= 0 {
			p.replicas[from]--
		}
		if to >= 0 {
			p.replicas[to]++
		}
	case kind == TransferLeader:
		p.transfers++
		p.leaders[from]--
		p.leaders[to]++
		p.rates[from] -= s.rate
		p.rates[to] += s.rate
	case kind == Split:
		p.splits++
	}
}

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
