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
