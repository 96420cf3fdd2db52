package placement

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// NodeStatus is one node in the cluster status.
type NodeStatus struct {
	ID raftpb.NodeID
	// Liveness is gossip's view: alive, suspect, dead or left.
	Liveness string
	// State is the operator's: active, draining or decommissioned.
	State                          NodeState
	RaftAddr, ClientAddr, HTTPAddr string
	// Replicas and Leaders count what the node reported hosting and
	// leading (0 if it did not answer).
	Replicas, Leaders int
}

// ShardInfo is one shard in the cluster status.
type ShardInfo struct {
	Desc     shard.Descriptor
	Voters   []raftpb.NodeID
	Learners []raftpb.NodeID
	Leader   raftpb.NodeID
}

// Status is the cluster as one node sees it.
type Status struct {
	Nodes      []NodeStatus
	Shards     []ShardInfo
	Moves      []Move
	MetaLeader raftpb.NodeID
	// Plan is what the planner would do now (see Rebalance).
	Plan []plan.Action
}

// Status collects the cluster's state: gossip's members, the meta
// shard's table, and every live node's report of what it hosts and leads.
func (n *Node) Status(ctx context.Context) (Status, error) {
	s, err := n.collect(ctx, false)
	if err != nil {
		return Status{}, err
	}
	var out Status
	replicas, leaders := map[raftpb.NodeID]int{}, map[raftpb.NodeID]int{}
	for node, rs := range s.reports {
		replicas[node] = len(rs)
		for _, r := range rs {
			if r.Leader {
				leaders[node]++
			}
		}
	}
	for _, m := range s.members {
		out.Nodes = append(out.Nodes, NodeStatus{ID: m.NodeID, Liveness: m.State.String(), State: s.table.nodes[m.NodeID],
			RaftAddr: m.RaftAddr, ClientAddr: m.ClientAddr, HTTPAddr: m.HTTPAddr,
			Replicas: replicas[m.NodeID], Leaders: leaders[m.NodeID]})
	}
	ids := make([]shard.ShardID, 0, len(s.best))
	for id := range s.table.shards {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st := s.table.shards[id]
		if b, ok := s.best[id]; ok && b.Desc.Epoch >= st.Desc.Epoch {
			st = b
		}
		out.Shards = append(out.Shards, ShardInfo{Desc: st.Desc, Voters: st.ConfState.Voters, Learners: st.ConfState.Learners, Leader: s.leader[id]})
	}
	out.MetaLeader = s.leader[shard.MetaShardID]
	seen := map[shard.ShardID]bool{}
	for _, m := range n.driver.moves() {
		out.Moves = append(out.Moves, m)
		seen[m.Shard] = true
	}
	for id, m := range s.table.moves {
		if !seen[id] {
			m.Stage = "recorded"
			out.Moves = append(out.Moves, m)
		}
	}
	slices.SortFunc(out.Moves, func(a, b Move) int { return cmp.Compare(a.Shard, b.Shard) })
	out.Plan = plan.Plan(n.driver.cluster(s, time.Now()), n.opts.Plan)
	return out, nil
}

// Rebalance returns the planner's actions for the cluster as it is now
// and, unless dryRun, starts them (each recorded in the meta shard as it
// runs; a shard with a move in flight is skipped).
func (n *Node) Rebalance(ctx context.Context, dryRun bool) ([]plan.Action, error) {
	s, err := n.collect(ctx, n.opts.Plan.SplitSizeBytes > 0)
	if err != nil {
		return nil, err
	}
	actions := plan.Plan(n.driver.cluster(s, time.Now()), n.opts.Plan)
	if !dryRun {
		for _, a := range actions {
			n.driver.start(moveFor(a), false)
		}
	}
	return actions, nil
}

// SetNodeState records the operator's state for a node in the meta shard.
func (n *Node) SetNodeState(ctx context.Context, id raftpb.NodeID, state NodeState) error {
	var w metaWrite
	w.setNode(id, state)
	if err := w.commit(ctx, n.store); err != nil {
		return err
	}
	if id == n.opts.Store.NodeID {
		m := n.selfMeta()
		m.Draining = state == NodeDraining
		_ = n.gossip.UpdateMeta(m)
	}
	return nil
}

func (n *Node) selfMeta() gossip.Meta {
	if m, ok := n.gossip.Member(n.opts.Store.NodeID); ok {
		return m.Meta
	}
	return n.opts.Gossip.Meta
}

// DrainProgress is how much a draining node still holds.
type DrainProgress struct {
	Node              raftpb.NodeID
	Replicas, Leaders int
	Done              bool
}

// Drain marks node as draining: the driver moves every replica and
// leadership away from it. With wait, Drain returns once the node holds
// nothing (or ctx ends); without, at once with the current progress.
func (n *Node) Drain(ctx context.Context, node raftpb.NodeID, wait bool) (DrainProgress, error) {
	if err := n.SetNodeState(ctx, node, NodeDraining); err != nil {
		return DrainProgress{}, err
	}
	for {
		p, err := n.drainProgress(ctx, node)
		if err != nil || p.Done || !wait {
			return p, err
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (n *Node) drainProgress(ctx context.Context, node raftpb.NodeID) (DrainProgress, error) {
	rs, err := n.store.Report(ctx, node, false)
	if err != nil {
		return DrainProgress{Node: node}, err
	}
	p := DrainProgress{Node: node, Replicas: len(rs)}
	for _, r := range rs {
		if r.Leader {
			p.Leaders++
		}
	}
	p.Done = p.Replicas == 0
	return p, nil
}

// MoveShard moves shard id's replica from node from to node to now (an
// admin request) and waits until it is done. ErrMoveInFlight: another
// move of the shard holds it. ErrMoveSuperseded: the move's record was
// removed or replaced before the move was done (the driver's run of the
// same move gave up, or a newer move took the shard).
func (n *Node) MoveShard(ctx context.Context, id shard.ShardID, from, to raftpb.NodeID) error {
	if from == to || to == raftpb.None {
		return fmt.Errorf("placement: bad move of shard %d from %d to %d", id, from, to)
	}
	m := Move{Shard: id, Kind: MoveReplace, From: from, To: to, Reason: "admin move", Started: time.Now()}
	if from == raftpb.None {
		m.Kind = MoveAdd
	}
	return n.execute(ctx, &m, false, func(string) {})
}

// TransferLeader moves shard id's leadership to node to.
func (n *Node) TransferLeader(ctx context.Context, id shard.ShardID, to raftpb.NodeID) error {
	return n.store.TransferLeader(ctx, id, to)
}

// Advertise publishes this node's client and HTTP addresses in its gossip
// metadata (known only once the server listens).
func (n *Node) Advertise(clientAddr, httpAddr string) error {
	m := n.selfMeta()
	m.ClientAddr, m.HTTPAddr = clientAddr, httpAddr
	return n.gossip.UpdateMeta(m)
}

// statusCache keeps the last Status for RecentStatus.
type statusCache struct {
	mu sync.Mutex
	at time.Time
	st Status
}

// RecentStatus returns a Status at most maxAge old, collecting a new one
// only when the last is older: a dashboard polling every node every second
// then costs one collection per node per maxAge, however many are open.
func (n *Node) RecentStatus(ctx context.Context, maxAge time.Duration) (Status, error) {
	c := &n.status
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < maxAge {
		return c.st, nil
	}
	st, err := n.Status(ctx)
	if err != nil {
		return st, err
	}
	c.st, c.at = st, time.Now()
	return st, nil
}
