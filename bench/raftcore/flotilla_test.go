package raftcore

import (
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// flotillaReplica drives a raftgroup.Group.
type flotillaReplica struct {
	g         *raftgroup.Group
	st        *raftgroup.MemoryStorage
	applied   raftpb.Index
	proposals int
}

func newFlotillaCluster() (*cluster[raftpb.Message, *flotillaReplica], error) {
	ids := []raftpb.NodeID{1, 2, 3}
	nodes := make([]*flotillaReplica, len(ids))
	for i, id := range ids {
		st := raftgroup.NewMemoryStorage(raftpb.ConfState{Voters: ids})
		// Zero limits mean raftgroup's defaults, which the etcd side copies.
		g, err := raftgroup.New(raftgroup.Config{ID: id, Group: 1, Storage: st, Seed: 1})
		if err != nil {
			return nil, err
		}
		nodes[i] = &flotillaReplica{g: g, st: st}
	}
	return newCluster(nodes, func(m raftpb.Message) int { return int(m.To) - 1 })
}

func (r *flotillaReplica) campaign() error { r.g.Campaign(); return nil }

func (r *flotillaReplica) propose(data []byte) error {
	_, _, err := r.g.Propose(data)
	return err
}

func (r *flotillaReplica) handleReady(out []raftpb.Message) ([]raftpb.Message, bool, error) {
	if !r.g.HasReady() {
		return out, false, nil
	}
	rd := r.g.Ready()
	if rd.Snapshot != nil {
		return out, true, fmt.Errorf("raftcore: unexpected snapshot at %d", rd.Snapshot.Metadata.Index)
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

func (r *flotillaReplica) step(m raftpb.Message) error { return r.g.Step(m) }
func (r *flotillaReplica) appliedProposals() int       { return r.proposals }
func (r *flotillaReplica) appliedIndex() uint64        { return uint64(r.applied) }
func (r *flotillaReplica) compact(i uint64) error      { return r.st.Compact(raftpb.Index(i)) }
func (r *flotillaReplica) isLeader() bool              { return r.g.Role() == raftgroup.Leader }
