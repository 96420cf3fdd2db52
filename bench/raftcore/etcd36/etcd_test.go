package etcd36

import (
	"fmt"
	"io"
	"log"

	"github.com/flotilladb/flotilla/raftgroup/raftbench"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// etcdReplica drives a go.etcd.io/raft/v3 v3.6 RawNode.
type etcdReplica struct {
	id        uint64
	rn        *raft.RawNode
	st        *raft.MemoryStorage
	applied   uint64
	proposals int
	// each proposes entry by entry with RawNode.Propose instead of one
	// MsgProp per batch.
	each bool
}

// newEtcdCluster returns an etcd raft cluster with node 1 elected. With
// each, batches are proposed one RawNode.Propose at a time.
func newEtcdCluster(each bool) (*raftbench.Cluster[pb.Message, *etcdReplica], error) {
	ids := []uint64{1, 2, 3}
	logger := &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}
	nodes := make([]*etcdReplica, len(ids))
	for i, id := range ids {
		st := raft.NewMemoryStorage()
		// Bootstrap the membership as a snapshot at index 1, term 1 (what
		// raftgroup does); v3.6 rejects a snapshot holding only a
		// ConfState.
		snap := pb.Snapshot{Metadata: pb.SnapshotMetadata{Index: 1, Term: 1, ConfState: pb.ConfState{Voters: ids}}}
		if err := st.ApplySnapshot(snap); err != nil {
			return nil, err
		}
		rn, err := raft.NewRawNode(&raft.Config{
			ID:            id,
			ElectionTick:  10,
			HeartbeatTick: 1,
			Storage:       st,
			// raftgroup's defaults (config.go), as in the parent module.
			MaxSizePerMsg:             1 << 20,
			MaxInflightMsgs:           256,
			MaxInflightBytes:          32 << 20,
			MaxUncommittedEntriesSize: 64 << 20,
			MaxCommittedSizePerReady:  64 << 20,
			PreVote:                   true,
			CheckQuorum:               true,
			Logger:                    logger,
		})
		if err != nil {
			return nil, err
		}
		nodes[i] = &etcdReplica{id: id, rn: rn, st: st, each: each}
	}
	return raftbench.NewCluster(nodes, func(m pb.Message) int { return int(m.To) - 1 })
}

func (r *etcdReplica) Campaign() error { return r.rn.Campaign() }

// Propose steps one MsgProp carrying all n entries, as the parent
// module's etcd driver does, or with each calls RawNode.Propose n times.
func (r *etcdReplica) Propose(data []byte, n int) error {
	if r.each {
		for range n {
			if err := r.rn.Propose(data); err != nil {
				return err
			}
		}
		return nil
	}
	// NB: a fresh slice each time: etcd raft keeps the entries in its log.
	ents := make([]pb.Entry, n)
	for i := range ents {
		ents[i].Data = data
	}
	return r.rn.Step(pb.Message{Type: pb.MsgProp, From: r.id, Entries: ents})
}

func (r *etcdReplica) HandleReady(out []pb.Message) ([]pb.Message, bool, error) {
	if !r.rn.HasReady() {
		return out, false, nil
	}
	rd := r.rn.Ready()
	if !raft.IsEmptySnap(rd.Snapshot) {
		return out, true, fmt.Errorf("etcd36: unexpected snapshot at %d", rd.Snapshot.Metadata.Index)
	}
	if err := r.st.Append(rd.Entries); err != nil {
		return out, true, err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := r.st.SetHardState(rd.HardState); err != nil {
			return out, true, err
		}
	}
	out = append(out, rd.Messages...)
	for i := range rd.CommittedEntries {
		e := &rd.CommittedEntries[i]
		if len(e.Data) > 0 {
			r.proposals++
		}
		r.applied = e.Index
	}
	r.rn.Advance(rd)
	return out, true, nil
}

func (r *etcdReplica) Step(m pb.Message) error { return r.rn.Step(m) }
func (r *etcdReplica) AppliedProposals() int   { return r.proposals }
func (r *etcdReplica) AppliedIndex() uint64    { return r.applied }
func (r *etcdReplica) Compact(i uint64) error  { return r.st.Compact(i) }
func (r *etcdReplica) IsLeader() bool          { return r.rn.BasicStatus().RaftState == raft.StateLeader }
