package plan

import (
	"math"
	"slices"
	"testing"
)

// The checks below restate the planner's promises in the simplest terms,
// without the planner's code, so that they can catch its mistakes.

func nodeByID(c Cluster, id NodeID) (Node, bool) {
	i := slices.IndexFunc(c.Nodes, func(n Node) bool { return n.ID == id })
	if i < 0 {
		return Node{}, false
	}
	return c.Nodes[i], true
}

func isLive(c Cluster, id NodeID) bool {
	n, ok := nodeByID(c, id)
	return ok && n.State == Live
}

func isUp(c Cluster, id NodeID) bool {
	n, ok := nodeByID(c, id)
	return ok && (n.State == Live || n.State == Draining)
}

func isLost(c Cluster, cfg Config, id NodeID) bool {
	n, ok := nodeByID(c, id)
	if !ok || n.State == Decommissioned {
		return true
	}
	return (n.State == Dead || n.State == Suspect) && n.DownFor >= cfg.DeadTimeout
}

func liveNodes(c Cluster) int {
	k := 0
	for _, n := range c.Nodes {
		if n.State == Live {
			k++
		}
	}
	return k
}

func targetOf(s Shard, cfg Config) int {
	if s.Meta {
		return cfg.MetaReplicas
	}
	return cfg.Replicas
}

func upVoters(c Cluster, s Shard) int {
	k := 0
	for _, v := range s.Voters {
		if isUp(c, v) {
			k++
		}
	}
	return k
}

// checkActions checks the actions Plan returned for snapshot c: each one is
// possible, at most one per shard, none for a shard with a move in flight,
// the limits hold, and no action lowers a shard's up voters below
// min(now, target, Live nodes), its voters below min(now, what can be
// placed), or takes away its quorum of up voters.
func checkActions(t *testing.T, c Cluster, cfg Config, acts []Action) {
	t.Helper()
	cfg.EnsureDefaults()
	seen := map[ShardID]bool{}
	for _, m := range c.InFlight {
		seen[m.Shard] = true
	}
	moves, transfers, splits := len(c.InFlight), 0, 0
	perNode := map[NodeID]int{}
	charge := func(from, to NodeID) {
		for _, n := range []NodeID{from, to} {
			if n != 0 && !isLost(c, cfg, n) {
				perNode[n]++
			}
		}
	}
	for _, m := range c.InFlight {
		charge(m.From, m.To)
	}
	for _, a := range acts {
		if seen[a.Shard] {
			t.Fatalf("%v: second action for the shard, or one with a move in flight", a)
		}
		seen[a.Shard] = true
		i := slices.IndexFunc(c.Shards, func(s Shard) bool { return s.ID == a.Shard })
		if i < 0 {
			t.Fatalf("%v: no such shard", a)
		}
		s := c.Shards[i]
		if a.Epoch != s.Epoch {
			t.Fatalf("%v: epoch %d, shard has %d", a, a.Epoch, s.Epoch)
		}
		checkAction(t, c, cfg, s, a)
		switch {
		case a.Kind.isMove():
			moves++
			charge(a.From, a.To)
		case a.Kind == TransferLeader:
			transfers++
		case a.Kind == Split:
			splits++
		}
	}
	if moves > cfg.MaxMoves || transfers > cfg.MaxLeaderTransfers || splits > cfg.MaxSplits {
		t.Fatalf("limits broken: %d moves (max %d), %d transfers (max %d), %d splits (max %d)",
			moves, cfg.MaxMoves, transfers, cfg.MaxLeaderTransfers, splits, cfg.MaxSplits)
	}
	for n, k := range perNode {
		if k > cfg.MaxMovesPerNode {
			t.Fatalf("node %d is in %d moves (max %d)", n, k, cfg.MaxMovesPerNode)
		}
	}
}

func checkAction(t *testing.T, c Cluster, cfg Config, s Shard, a Action) {
	t.Helper()
	holds := func(n NodeID) bool { return slices.Contains(s.Voters, n) || slices.Contains(s.Learners, n) }
	if a.Kind == AddReplica || a.Kind == MoveReplica {
		if !isLive(c, a.To) || holds(a.To) {
			t.Fatalf("%v: target is not Live or already holds a replica (voters %v learners %v)", a, s.Voters, s.Learners)
		}
	}
	if a.Kind == MoveReplica && !slices.Contains(s.Voters, a.From) || a.Kind == RemoveReplica && !holds(a.From) {
		t.Fatalf("%v: source holds no replica (voters %v learners %v)", a, s.Voters, s.Learners)
	}
	if a.Kind == TransferLeader && (a.From != s.Leader || !slices.Contains(s.Voters, a.To) || !isLive(c, a.To) || a.From == a.To) {
		t.Fatalf("%v: bad transfer (leader %d, voters %v)", a, s.Leader, s.Voters)
	}
	if a.Kind == Split && s.Meta {
		t.Fatalf("%v: split of the meta shard", a)
	}
	after := s
	after.Voters = slices.Clone(s.Voters)
	switch a.Kind {
	case AddReplica:
		after.Voters = append(after.Voters, a.To)
	case MoveReplica:
		after.Voters[slices.Index(after.Voters, a.From)] = a.To
	case RemoveReplica:
		after.Voters = slices.DeleteFunc(after.Voters, func(n NodeID) bool { return n == a.From })
	}
	target := targetOf(s, cfg)
	if b, af := upVoters(c, s), upVoters(c, after); af < min(b, target, liveNodes(c)) {
		t.Fatalf("%v: up voters %d -> %d (target %d, live nodes %d)", a, b, af, target, liveNodes(c))
	}
	if b, af := upVoters(c, s), upVoters(c, after); 2*b > len(s.Voters) && 2*af <= len(after.Voters) {
		t.Fatalf("%v: quorum lost: %d of %v up -> %d of %v", a, b, s.Voters, af, after.Voters)
	}
	if b, af := len(s.Voters), len(after.Voters); af < min(b, target, liveNodes(c)) || af == 0 {
		t.Fatalf("%v: voters %d -> %d (target %d, live nodes %d)", a, b, af, target, liveNodes(c))
	}
}

// within reports whether count is within tol of mean, allowing the
// rounding to whole counts: floor(mean*(1-tol)) <= count <= ceil(mean*(1+tol)).
func within(count int, mean, tol float64) bool {
	return float64(count) >= math.Floor(mean*(1-tol)+1e-9) && float64(count) <= math.Ceil(mean*(1+tol)-1e-9)
}

// checkConverged checks the goals at a fixed point: every shard fully
// replicated on distinct Live nodes and led from one, nothing on a node
// that is not Live, and replica and leader counts within tolerance.
func checkConverged(t *testing.T, c Cluster, cfg Config) {
	t.Helper()
	cfg.EnsureDefaults()
	if len(c.InFlight) > 0 {
		t.Fatalf("%d moves still in flight", len(c.InFlight))
	}
	replicas, leaders := map[NodeID]int{}, map[NodeID]int{}
	for _, s := range c.Shards {
		want := min(targetOf(s, cfg), liveNodes(c))
		if len(s.Voters) != want || len(s.Learners) != 0 {
			t.Fatalf("shard %d: voters %v learners %v, want %d voters", s.ID, s.Voters, s.Learners, want)
		}
		for i, v := range s.Voters {
			if !isLive(c, v) || slices.Contains(s.Voters[:i], v) {
				t.Fatalf("shard %d: voters %v not distinct Live nodes", s.ID, s.Voters)
			}
			replicas[v]++
		}
		if s.Leader != 0 {
			if !slices.Contains(s.Voters, s.Leader) {
				t.Fatalf("shard %d: leader %d not a voter of %v", s.ID, s.Leader, s.Voters)
			}
			leaders[s.Leader]++
		}
	}
	checkSpread(t, c, "replica", replicas, cfg.Tolerance)
	checkSpread(t, c, "leader", leaders, cfg.Tolerance)
}

func checkSpread(t *testing.T, c Cluster, what string, counts map[NodeID]int, tol float64) {
	t.Helper()
	total := 0
	for _, k := range counts {
		total += k
	}
	mean := float64(total) / float64(liveNodes(c))
	for _, n := range c.Nodes {
		if n.State == Live && !within(counts[n.ID], mean, tol) {
			t.Fatalf("node %d: %d %ss, mean %.2f: outside %.0f%%", n.ID, counts[n.ID], what, mean, 100*tol)
		}
	}
}
