package raftbench

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// FlotillaReplica drives a raftgroup.Group.
type FlotillaReplica struct {
	g         *raftgroup.Group
	st        *raftgroup.MemoryStorage
	applied   raftpb.Index
	proposals int
}

// NewFlotilla returns a raftgroup cluster with node 1 elected.
func NewFlotilla() (*Cluster[raftpb.Message, *FlotillaReplica], error) {
	ids := []raftpb.NodeID{1, 2, 3}
	nodes := make([]*FlotillaReplica, len(ids))
	for i, id := range ids {
		st := raftgroup.NewMemoryStorage(raftpb.ConfState{Voters: ids})
		// Zero limits mean raftgroup's defaults, which the etcd side copies.
		g, err := raftgroup.New(raftgroup.Config{ID: id, Group: 1, Storage: st, Seed: 1})
		if err != nil {
			return nil, err
		}
		nodes[i] = &FlotillaReplica{g: g, st: st}
	}
	return NewCluster(nodes, func(m raftpb.Message) int { return int(m.To) - 1 })
}

func (r *FlotillaReplica) Campaign() error { r.g.Campaign(); return nil }

// Propose calls Group.Propose n times: raftgroup has no batch call, it
// batches in Ready (one MsgApp per follower for everything proposed since
// the last one).
func (r *FlotillaReplica) Propose(data []byte, n int) error {
	for range n {
		if _, _, err := r.g.Propose(data); err != nil {
			return err
		}
	}
	return nil
}

func (r *FlotillaReplica) HandleReady(out []raftpb.Message) ([]raftpb.Message, bool, error) {
	if !r.g.HasReady() {
		return out, false, nil
	}
	rd := r.g.Ready()
	if rd.Snapshot != nil {
		return out, true, fmt.Errorf("raftbench: unexpected snapshot at %d", rd.Snapshot.Metadata.Index)
	}
	if err := r.st.Append(rd.Entries); err != nil {
		return out, true, err
	}
	if !rd.HardState.IsEmpty() {
		r.st.SetHardState(rd.HardState)
	}
	out = append(out, rd.Messages...)
	out = append(out, rd.MessagesAfterPersist...)
	for i := range rd.CommittedEntries {
		e := &rd.CommittedEntries[i]
		if len(e.Data) > 0 {
			r.proposals++
		}
		r.applied = e.Index
	}
	r.g.Advance(rd)
	return out, true, nil
}

func (r *FlotillaReplica) Step(m raftpb.Message) error { return r.g.Step(m) }
func (r *FlotillaReplica) AppliedProposals() int       { return r.proposals }
func (r *FlotillaReplica) AppliedIndex() uint64        { return uint64(r.applied) }
func (r *FlotillaReplica) Compact(i uint64) error      { return r.st.Compact(raftpb.Index(i)) }
func (r *FlotillaReplica) IsLeader() bool              { return r.g.Role() == raftgroup.Leader }
