package placement

import (
	"context"
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// Stale replicas. A node that was down while the driver replaced its
// replicas still holds them when it restarts: each believes in the old
// membership, never hears from the shard's leader (no longer a member, it
// is sent nothing), and so never learns that it was removed. Such a
// replica serves nothing and fails requests sent through its node for
// its range ("no leader known") instead of forwarding them.
//
// The shard layer can only delete a replica that applies its own
// removal. So the driver collects a stale replica by making it apply its
// removal: it adds the node as a learner, which sends the old replica the
// log it missed (its removal included, which deletes it) or a snapshot
// (which makes it an ordinary learner), and then removes the learner
// again. It is a move like the others (MoveCollect, recorded in the meta
// shard, one per shard at a time).

// staleGrace is how long a replica must look stale before the driver
// collects it: a replica that has just been removed by a move applies
// its removal and goes by itself within moments.
func (d *driver) staleGrace() time.Duration {
	return max(5*d.n.opts.DriverInterval, 2*time.Second)
}

type staleKey struct {
	node  raftpb.NodeID
	shard shard.ShardID
}

// collectStale starts a MoveCollect for each replica that has looked
// stale for staleGrace: its node reports it at an older epoch than the
// shard's newest, whose membership leaves the node out. At most
// MaxMovesPerNode run on one node at once.
func (d *driver) collectStale(s *snapshot, now time.Time) {
	seen := map[staleKey]time.Time{}
	var due []staleKey
	for node, rs := range s.reports {
		for _, r := range rs {
			best, ok := s.best[r.Desc.ID]
			if !ok || r.Desc.Epoch >= best.Desc.Epoch || isMember(&best.ConfState, node) {
				continue
			}
			k := staleKey{node, r.Desc.ID}
			first, ok := d.staleSince[k]
			if !ok {
				first = now
			}
			seen[k] = first
			if now.Sub(first) >= d.staleGrace() {
				due = append(due, k)
			}
		}
	}
	d.staleSince = seen
	d.mu.Lock()
	busy := map[raftpb.NodeID]int{}
	for _, m := range d.inflight {
		if m.Kind == MoveCollect {
			busy[m.To]++
		}
	}
	d.mu.Unlock()
	for _, k := range due {
		if busy[k.node] >= d.n.opts.Plan.MaxMovesPerNode {
			continue
		}
		busy[k.node]++
		d.start(Move{Shard: k.shard, Kind: MoveCollect, To: k.node, Reason: "stale replica on a node the shard left", Started: now}, false)
	}
}

// collector is the state of one MoveCollect across membership's steps.
type collector struct {
	added bool
	since time.Time
}

// step takes one step of collecting m.To's stale replica of m.Shard,
// given the shard's progress p; done reports that the replica is gone.
func (col *collector) step(ctx context.Context, n *Node, m *Move, p *shard.Progress,
	change func(...raftpb.ConfChangeSingle) error, stage func(string)) (done bool, err error) {
	cs, to := &p.Conf, m.To
	if isVoter(cs, to) {
		stage("done")
		return true, nil // a member again: its replica is not stale any more
	}
	if col.since.IsZero() {
		col.since = time.Now()
	}
	remove := raftpb.ConfChangeSingle{Type: raftpb.RemoveNode, Node: to}
	if time.Since(col.since) > n.opts.CatchUpTimeout {
		if isLearner(cs, to) {
			_ = change(remove)
		}
		return false, fmt.Errorf("placement: the stale replica of shard %d on node %d was not collected in %v", m.Shard, to, n.opts.CatchUpTimeout)
	}
	epoch, found, err := n.reportedEpoch(ctx, to, m.Shard)
	if err != nil {
		return false, nil // ask again
	}
	switch {
	case isLearner(cs, to) && (!found || epoch >= p.Desc.Epoch):
		// Gone (it applied its old removal) or caught up (by a
		// snapshot): take the learner out again.
		stage("remove learner")
		_ = change(remove)
	case isLearner(cs, to):
		stage("catch-up")
	case !found:
		stage("done")
		return true, nil
	case !col.added:
		stage("learner")
		if change(raftpb.ConfChangeSingle{Type: raftpb.AddLearner, Node: to}) == nil {
			col.added = true
		}
	default:
		stage("wait for removal")
	}
	return false, nil
}

// reportedEpoch returns the epoch at which node reports hosting shard id
// (found false: it does not host it, or only an uninitialized replica).
func (n *Node) reportedEpoch(ctx context.Context, node raftpb.NodeID, id shard.ShardID) (uint64, bool, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rs, err := n.store.Report(rctx, node, false)
	if err != nil {
		return 0, false, err
	}
	for _, r := range rs {
		if r.Desc.ID == id {
			return r.Desc.Epoch, true, nil
		}
	}
	return 0, false, nil
}
