package placement

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// driver is the placement driver. Every node has one; only the one on the
// meta shard's leader acts. Each pass it collects what every live node
// hosts (shard.Store.Report), brings the meta shard's descriptors in line
// with the replicas' own (the replicas are the truth: a split or move
// whose meta update was lost is found again here), asks the planner what
// to do, and starts those actions, each in its own goroutine, at most
// one per shard at a time.
type driver struct {
	n *Node

	mu       sync.Mutex
	inflight map[shard.ShardID]*Move
	// downSince is when this driver first saw each node not alive (for a
	// node gossip declares dead, the earlier of that and the death, see
	// downFor).
	downSince map[raftpb.NodeID]time.Time
	// leading: this node led the meta shard at the last pass; moves
	// recorded in the meta shard are resumed on becoming leader.
	leading bool
	// staleSince is when each stale replica was first seen (collect.go).
	staleSince map[staleKey]time.Time
	// Request rates: each shard's request count summed over its replicas
	// at the previous pass, and the rates derived from two passes.
	prevReqs map[shard.ShardID]uint64
	prevAt   time.Time
	rates    map[shard.ShardID]float64
}

func newDriver(n *Node) *driver {
	return &driver{n: n, inflight: map[shard.ShardID]*Move{}, downSince: map[raftpb.NodeID]time.Time{}}
}

func (d *driver) run() {
	defer d.n.wg.Done()
	t := time.NewTicker(d.n.opts.DriverInterval)
	defer t.Stop()
	for {
		select {
		case <-d.n.ctx.Done():
			return
		case <-t.C:
		}
		if d.n.opts.DisableDriver {
			continue
		}
		if !d.n.leadsMeta() {
			d.leading = false
			continue
		}
		ctx, cancel := context.WithTimeout(d.n.ctx, 10*time.Second)
		d.n.m.passes.Add(1)
		err := d.pass(ctx)
		cancel()
		if err != nil && d.n.ctx.Err() == nil {
			d.n.log.Debug("placement: driver pass failed", "err", err)
		}
	}
}

// snapshot is one consistent-enough view of the cluster.
type snapshot struct {
	table   *table
	reports map[raftpb.NodeID][]shard.ReplicaReport
	members []gossip.Member
	// best is each shard's most recent state as its replicas report it;
	// leader its leader.
	best   map[shard.ShardID]shard.ShardState
	leader map[shard.ShardID]raftpb.NodeID
	bytes  map[shard.ShardID]uint64
	// reqs is each shard's request count summed over its replicas.
	reqs map[shard.ShardID]uint64
	at   time.Time
}

// collect reads the meta shard and every live node's report.
func (n *Node) collect(ctx context.Context, sizes bool) (*snapshot, error) {
	t, err := readTable(ctx, n.store, shard.Linearizable)
	if err != nil {
		return nil, err
	}
	s := &snapshot{table: t, reports: map[raftpb.NodeID][]shard.ReplicaReport{}, members: n.gossip.Members(),
		best: map[shard.ShardID]shard.ShardState{}, leader: map[shard.ShardID]raftpb.NodeID{}, bytes: map[shard.ShardID]uint64{},
		reqs: map[shard.ShardID]uint64{}, at: time.Now()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range s.members {
		if !m.State.Live() {
			continue
		}
		wg.Add(1)
		go func(id raftpb.NodeID) {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			rs, err := n.store.Report(rctx, id, sizes)
			if err != nil {
				return // a node that does not answer is left out of this pass
			}
			mu.Lock()
			s.reports[id] = rs
			mu.Unlock()
		}(m.NodeID)
	}
	wg.Wait()
	for node, rs := range s.reports {
		for _, r := range rs {
			id := r.Desc.ID
			cur, ok := s.best[id]
			if !ok || r.Desc.Epoch > cur.Desc.Epoch || (r.Desc.Epoch == cur.Desc.Epoch && r.Leader) {
				s.best[id] = shard.ShardState{Desc: r.Desc, ConfState: r.Conf}
			}
			if r.Leader {
				s.leader[id] = node
				s.bytes[id] = r.Bytes
			}
			s.reqs[id] += r.Requests
		}
	}
	for id, ld := range s.leader {
		n.cache.NoteLeader(id, ld)
	}
	return s, nil
}

// reconcile writes to the meta shard every descriptor its replicas report
// newer than the meta shard's.
func (n *Node) reconcile(ctx context.Context, s *snapshot) error {
	var w metaWrite
	for id, st := range s.best {
		cur, ok := s.table.shards[id]
		if ok && cur.Desc.Epoch >= st.Desc.Epoch && string(cur.Desc.End) == string(st.Desc.End) {
			continue
		}
		w.setShard(st)
		s.table.shards[id] = st
	}
	if len(w.ops) == 0 {
		return nil
	}
	if err := w.commit(ctx, n.store); err != nil {
		return err
	}
	s.table.version++
	n.cache.load(s.table)
	return nil
}

// cluster turns a snapshot into the planner's input.
func (d *driver) cluster(s *snapshot, now time.Time) plan.Cluster {
	d.mu.Lock()
	defer d.mu.Unlock()
	var c plan.Cluster
	seen := map[raftpb.NodeID]bool{}
	for _, m := range s.members {
		seen[m.NodeID] = true
		nd := plan.Node{ID: m.NodeID, Capacity: m.Capacity}
		switch {
		case m.State == gossip.Alive && s.reports[m.NodeID] != nil:
			nd.State = plan.Live
			delete(d.downSince, m.NodeID)
		default:
			nd.State, nd.DownFor = plan.Suspect, d.downFor(m, now)
			if m.State == gossip.Dead || m.State == gossip.Left {
				nd.State = plan.Dead
			}
		}
		switch s.table.nodes[m.NodeID] {
		case NodeDraining:
			if nd.State == plan.Live {
				nd.State = plan.Draining
			}
		case NodeDecommissioned:
			nd.State = plan.Decommissioned
		}
		c.Nodes = append(c.Nodes, nd)
	}
	// Nodes that hold replicas but are unknown to gossip (never seen since
	// this node started): count them as down since now.
	for _, st := range s.table.shards {
		for _, id := range st.Desc.Replicas {
			if !seen[id] {
				seen[id] = true
				if _, ok := d.downSince[id]; !ok {
					d.downSince[id] = now
				}
				c.Nodes = append(c.Nodes, plan.Node{ID: id, State: plan.Dead, DownFor: now.Sub(d.downSince[id])})
			}
		}
	}
	for id, st := range s.table.shards {
		cs := st.ConfState
		sh := plan.Shard{ID: id, Start: st.Desc.Start, End: st.Desc.End, Epoch: st.Desc.Epoch,
			Voters: slices.Clone(cs.Voters), Learners: slices.Clone(cs.Learners),
			Leader: s.leader[id], SizeBytes: s.bytes[id], Meta: id == shard.MetaShardID,
			RequestsPerSec: d.rates[id]}
		c.Shards = append(c.Shards, sh)
	}
	slices.SortFunc(c.Shards, func(a, b plan.Shard) int { return cmp.Compare(a.ID, b.ID) })
	for _, m := range d.inflight {
		c.InFlight = append(c.InFlight, plan.Move{Shard: m.Shard, From: m.From, To: m.To})
	}
	return c
}

// downFor returns how long member m has been down, as far as this node
// knows, and notes it in downSince. A member gossip declares dead or
// gone counts from the earliest of this driver's first sight of it down
// and gossip's own record of its death: every node's gossip watches every
// other, so a driver that has just come to lead the meta shard knows the
// dead timeout already ran. Counting only from its own first pass, a
// node new to the meta leadership started the dead timeout over, which
// put re-replication off by up to a whole dead timeout at each such
// change of leader (TestNewMetaLeaderKeepsTheDeadClock).
func (d *driver) downFor(m gossip.Member, now time.Time) time.Duration {
	since, ok := d.downSince[m.NodeID]
	if !ok {
		since = now
	}
	if (m.State == gossip.Dead || m.State == gossip.Left) && !m.Since.IsZero() && m.Since.Before(since) {
		since = m.Since
	}
	d.downSince[m.NodeID] = since
	return now.Sub(since)
}

// pass is one round of the driver.
func (d *driver) pass(ctx context.Context) error {
	n := d.n
	s, err := n.collect(ctx, n.opts.Plan.SplitSizeBytes > 0)
	if err != nil {
		return err
	}
	// Every move recorded in the meta shard that this driver is not
	// running is resumed: on becoming leader, the old leader's; later, any
	// whose record outlived its run (the final delete failed, under load
	// or across a meta election), which would otherwise lock its shard
	// against every later move for good.
	d.leading = true
	for _, m := range s.table.moves {
		d.start(m, true)
	}
	if err := n.reconcile(ctx, s); err != nil {
		return err
	}
	d.noteRates(s)
	d.collectStale(s, time.Now())
	c := d.cluster(s, time.Now())
	actions := plan.Plan(c, n.opts.Plan)
	if n.opts.AutoRebalance != nil && !*n.opts.AutoRebalance {
		return nil
	}
	for _, a := range actions {
		d.start(moveFor(a), false)
	}
	return nil
}

// noteRates derives each shard's request rate from this pass's counts and
// the previous pass's. A count that went down (a node restarted, a
// replica moved) gives no rate for that interval.
func (d *driver) noteRates(s *snapshot) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if dt := s.at.Sub(d.prevAt).Seconds(); d.prevReqs != nil && dt > 0 {
		rates := make(map[shard.ShardID]float64, len(s.reqs))
		for id, n := range s.reqs {
			if p, ok := d.prevReqs[id]; ok && n >= p {
				rates[id] = float64(n-p) / dt
			}
		}
		d.rates = rates
	}
	d.prevReqs, d.prevAt = s.reqs, s.at
}

// moveFor maps a planner action to a move.
func moveFor(a plan.Action) Move {
	m := Move{Shard: a.Shard, From: a.From, To: a.To, Reason: a.Reason, Started: time.Now()}
	switch a.Kind {
	case plan.AddReplica:
		m.Kind = MoveAdd
	case plan.MoveReplica:
		m.Kind = MoveReplace
	case plan.RemoveReplica:
		m.Kind = MoveRemove
	case plan.TransferLeader:
		m.Kind = MoveTransfer
	case plan.Split:
		m.Kind = MoveSplit
	}
	return m
}

// start runs m in the background unless a move of its shard is running.
// resumed moves are already recorded in the meta shard.
func (d *driver) start(m Move, resumed bool) {
	d.mu.Lock()
	if _, busy := d.inflight[m.Shard]; busy {
		d.mu.Unlock()
		return
	}
	mm := m
	d.inflight[m.Shard] = &mm
	d.mu.Unlock()
	d.n.wg.Add(1)
	d.n.m.movesStarted.Add(1)
	go func() {
		defer d.n.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.inflight, m.Shard)
			d.mu.Unlock()
		}()
		err := d.n.execute(d.n.ctx, &mm, resumed, func(stage string) {
			d.mu.Lock()
			mm.Stage = stage
			d.mu.Unlock()
		})
		if err != nil {
			d.n.m.movesFailed.Add(1)
		} else {
			d.n.m.movesDone.Add(1)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			d.n.log.Warn("placement: move failed", "shard", m.Shard, "kind", m.Kind, "from", m.From, "to", m.To, "err", err)
		} else if err == nil {
			d.n.log.Info("placement: move done", "shard", m.Shard, "kind", m.Kind, "from", m.From, "to", m.To, "reason", m.Reason)
		}
	}()
}

// moves returns the moves this driver is running.
func (d *driver) moves() []Move {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Move, 0, len(d.inflight))
	for _, m := range d.inflight {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Move) int { return cmp.Compare(a.Shard, b.Shard) })
	return out
}
