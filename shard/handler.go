package shard

import (
	"context"
	"fmt"
	"io"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
)

// handler receives what the transport delivers. It never blocks the
// transport's reader: messages only go into replica inboxes.
type handler struct{ s *Store }

var (
	_ transport.Handler     = handler{}
	_ transport.CallHandler = handler{}
)

// HandleCall implements transport.CallHandler: a request another node
// forwarded here because this node leads its shard. It blocks until the
// request is applied or fails, which the transport allows (each Call runs
// in its own goroutine, off the Raft message path).
func (h handler) HandleCall(ctx context.Context, from raftpb.NodeID, req []byte) []byte {
	return h.s.HandleCall(ctx, from, req)
}

// HandleMessages implements transport.Handler.
func (h handler) HandleMessages(batch []raftpb.Message) {
	s := h.s
	for i := 0; i < len(batch); {
		// Messages of one group usually come together: hand them over in
		// one inbox operation.
		j := i + 1
		for j < len(batch) && batch[j].Group == batch[i].Group {
			j++
		}
		if r := s.replicaFor(batch[i].Group, createsReplica(batch[i].Type)); r != nil {
			if n := r.addMessages(batch[i:j]); n > 0 {
				s.m.messagesDropped.Add(uint64(n))
			}
		} else {
			s.m.messagesDropped.Add(uint64(j - i))
		}
		s.m.messagesReceived.Add(uint64(j - i))
		i = j
	}
}

// HandleSnapshot implements transport.Handler: it asks the replica's round
// whether the snapshot is wanted (which freezes the replica), installs the
// image in the state machine, and lets the round hand the MsgSnap to Raft.
func (h handler) HandleSnapshot(ctx context.Context, msg raftpb.Message, data io.Reader) error {
	s := h.s
	if msg.Snapshot == nil {
		return fmt.Errorf("shard: snapshot message for shard %d without a snapshot", msg.Group)
	}
	// The snapshot names the shard's state (descriptor included) at its
	// index: the receiver may not know the range yet (a new replica) or
	// may hold an older one (a split it missed).
	snapState, err := UnmarshalShardState(msg.Snapshot.Data)
	if err != nil || snapState.Desc.ID != msg.Group {
		return fmt.Errorf("%w: snapshot of shard %d carries no valid shard state", ErrBadSnapshot, msg.Group)
	}
	r := s.replicaFor(msg.Group, true)
	if r == nil {
		return fmt.Errorf("shard: snapshot for shard %d, which this node does not host", msg.Group)
	}
	inst := &snapInstall{msg: msg, accept: make(chan error, 1), installed: make(chan error, 1)}
	r.mu.Lock()
	r.mu.installs = append(r.mu.installs, inst)
	r.mu.Unlock()
	s.sched.enqueue(r)
	select {
	case err := <-inst.accept:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrClosed
	}
	md := msg.Snapshot.Metadata
	st := ShardState{Desc: snapState.Desc, Applied: md.Index, AppliedTerm: md.Term, ConfState: md.ConfState}
	err = s.sm.Install(ctx, st, data)
	inst.installed <- err
	s.sched.enqueue(r)
	if err == nil {
		s.m.snapshotsInstalled.Add(1)
	}
	return err
}

// acceptSnapshot decides, in the replica's round, whether a received
// snapshot may be installed, and freezes the replica until it is.
func (w *worker) acceptSnapshot(r *replica, inst *snapInstall) {
	md := inst.msg.Snapshot.Metadata
	st := r.g.Status()
	switch {
	case r.frozen != nil:
		inst.accept <- fmt.Errorf("shard: shard %d: another snapshot is being installed", r.id)
	case md.Index <= st.HardState.Commit || md.Index <= r.applied:
		inst.accept <- fmt.Errorf("shard: shard %d: snapshot at %d is not ahead of commit %d", r.id, md.Index, st.HardState.Commit)
	default:
		r.frozen = inst
		inst.accept <- nil
	}
}

// thaw checks a frozen replica: it reports true while the install is
// still running (the round must leave the replica alone), and on
// completion steps the MsgSnap into Raft.
func (w *worker) thaw(r *replica) bool {
	select {
	case err := <-r.frozen.installed:
		msg := r.frozen.msg
		r.frozen = nil
		if err != nil {
			return false
		}
		r.restoreState(msg.Snapshot)
		_ = r.g.Step(msg)
		return false
	default:
		return true
	}
}

// restoreState sets r's state to the installed snapshot's: its index,
// membership and descriptor (the range may be new to this replica).
func (r *replica) restoreState(snap *raftpb.Snapshot) {
	md := snap.Metadata
	r.applied, r.appliedTerm = md.Index, md.Term
	d := *r.descriptor()
	if st, err := UnmarshalShardState(snap.Data); err == nil && st.Desc.ID == r.id {
		d = st.Desc
	}
	r.publish(d, md.ConfState.Clone())
	r.stateChanged = true
	r.store.routes.update(r)
}
