package gossip

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. It is a separate type so they
// stay out of Gossip's method set.
//
// NB: memberlist calls the event, alive and conflict callbacks while it
// holds its node lock: they must not call memberlist, and must not block.
// They take only the table's lock, which is never held while calling
// memberlist.
type delegate struct{ g *Gossip }

var (
	_ memberlist.Delegate         = delegate{}
	_ memberlist.EventDelegate    = delegate{}
	_ memberlist.AliveDelegate    = delegate{}
	_ memberlist.MergeDelegate    = delegate{}
	_ memberlist.ConflictDelegate = delegate{}
)

// decodeNode checks that n belongs in this cluster and returns its Meta:
// the metadata decodes, names the local cluster, and its NodeID is the one
// the memberlist name was derived from.
func (d delegate) decodeNode(n *memberlist.Node) (Meta, error) {
	var m Meta
	if err := m.UnmarshalBinary(n.Meta); err != nil {
		return Meta{}, fmt.Errorf("node %q at %s: %w", n.Name, n.Address(), err)
	}
	if m.ClusterID != d.g.cfg.Meta.ClusterID {
		return Meta{}, fmt.Errorf("node %q at %s is of cluster %d, not %d", n.Name, n.Address(), m.ClusterID, d.g.cfg.Meta.ClusterID)
	}
	if n.Name != nodeName(m.NodeID) {
		return Meta{}, fmt.Errorf("node %q at %s advertises node ID %d", n.Name, n.Address(), m.NodeID)
	}
	return m, nil
}

// NodeMeta implements memberlist.Delegate: the local Meta, encoded.
func (d delegate) NodeMeta(limit int) []byte {
	b := d.g.localMetaBytes()
	if len(b) > limit {
		// Unreachable: every Meta stored was encoded within MaxMetaBytes,
		// which is memberlist's limit. Advertise nothing rather than let
		// memberlist panic.
		d.g.log.Error("gossip: node meta over memberlist's limit", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}

// NotifyMsg, GetBroadcasts, LocalState and MergeRemoteState implement
// memberlist.Delegate; this package sends no user messages or state.
func (delegate) NotifyMsg([]byte)                           {}
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (delegate) LocalState(join bool) []byte                { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool)     {}

// NotifyAlive implements memberlist.AliveDelegate: a node that does not
// belong in this cluster (another ClusterID, bad metadata, a name not
// derived from its NodeID) is never added, so it is never reported.
func (d delegate) NotifyAlive(n *memberlist.Node) error {
	_, err := d.decodeNode(n)
	return err
}

// NotifyMerge implements memberlist.MergeDelegate. It runs on both sides
// of a join, on the other side's view of the cluster, and refuses the
// merge if that view holds a foreign node or a live node whose NodeID
// this side knows live at another address. On the joining side it also
// notes whether the cluster remembers this node's ID as failed (not left)
// at another address (a restart), so Join can re-announce it (see
// Gossip.Join).
func (d delegate) NotifyMerge(peers []*memberlist.Node) error {
	g := d.g
	for _, n := range peers {
		m, err := d.decodeNode(n)
		if err != nil {
			g.log.Error("gossip: refusing to merge with a foreign cluster", "err", err)
			return err
		}
		live := n.State == memberlist.StateAlive || n.State == memberlist.StateSuspect
		addr := n.Address()
		if n.Name == g.name {
			if !g.joining() {
				// The other side is joining through this node and holds
				// an older view of it; memberlist refutes that itself.
				continue
			}
			self := g.Addr()
			if addr == self {
				continue
			}
			if live {
				err := fmt.Errorf("%w: node %d is live at %s, this node is at %s", ErrNodeIDInUse, m.NodeID, addr, self)
				g.noteJoinConflict(err)
				g.log.Error("gossip: refusing to join", "err", err)
				return err
			}
			// Left frees the name at once; Dead only after the reclaim time.
			if n.State == memberlist.StateDead {
				g.noteStaleSelf()
			}
			continue
		}
		if !live {
			continue
		}
		if known, ok := g.table.get(m.NodeID); ok && known.State.Live() && known.Addr != addr {
			err := fmt.Errorf("%w: node %d joins from %s but is live at %s", ErrNodeIDInUse, m.NodeID, addr, known.Addr)
			g.log.Error("gossip: refusing a joining node", "err", err)
			return err
		}
	}
	return nil
}

// NotifyConflict implements memberlist.ConflictDelegate: memberlist
// refused a node claiming a member's name (so its NodeID) from another
// address. That member is either live (two processes share a NodeID: an
// error) or failed less than the dead-node reclaim time ago (a node that
// restarted on a new port: Join announces it again after that time).
func (d delegate) NotifyConflict(existing, other *memberlist.Node) {
	g := d.g
	if m, err := d.decodeNode(existing); err == nil {
		if known, ok := g.table.get(m.NodeID); ok && !known.State.Live() {
			g.log.Info("gossip: a restarted node announced itself before the reclaim time; it is accepted on its next announcement",
				"name", existing.Name, "old_addr", existing.Address(), "new_addr", other.Address())
			return
		}
	}
	g.log.Error("gossip: refused a node claiming a live member's node ID",
		"name", existing.Name, "live_addr", existing.Address(), "claimant_addr", other.Address())
}

// NotifyJoin implements memberlist.EventDelegate.
func (d delegate) NotifyJoin(n *memberlist.Node) {
	m, err := d.decodeNode(n)
	if err != nil {
		d.g.log.Error("gossip: ignoring join", "err", err)
		return
	}
	m.leaving = false
	d.g.table.join(Member{Meta: m, State: Alive, Addr: n.Address(), Since: time.Now()})
}

// NotifyUpdate implements memberlist.EventDelegate.
func (d delegate) NotifyUpdate(n *memberlist.Node) {
	m, err := d.decodeNode(n)
	if err != nil {
		d.g.log.Error("gossip: ignoring update", "err", err)
		return
	}
	m.leaving = false
	d.g.table.update(m, n.Address(), time.Now())
}

// NotifyLeave implements memberlist.EventDelegate. memberlist calls it for
// failures and graceful leaves alike, and in v0.7.0 n.State does not tell
// them apart (it is never set); the leaving flag a node sets in its Meta
// just before leaving does.
func (d delegate) NotifyLeave(n *memberlist.Node) {
	m, err := d.decodeNode(n)
	if err != nil {
		d.g.log.Error("gossip: ignoring leave", "err", err)
		return
	}
	left := m.leaving
	m.leaving = false
	// The local node's own leave is recorded but not reported: its caller
	// knows, and Leave is about to stop the callbacks anyway.
	d.g.table.gone(m, n.Address(), left, n.Name != d.g.name, time.Now())
}
