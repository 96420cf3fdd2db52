package shard

import (
	"errors"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/wal"
)

// worker owns the scratch space of one round worker and its rounds that
// wait for their WAL sync (worker.go).
type worker struct {
	s  *Store
	in inbox
	// syncing are the rounds handed to the WAL and not finished, oldest
	// first. Invariant: at most Options.MaxSyncingRounds.
	syncing []*round
	// free are finished rounds kept for their buffers.
	free []*round
	// readBeats: the round being started or finished queued a heartbeat
	// of a fresh read round.
	readBeats bool
	// smallRounds counts the latest rounds in a row that took at most
	// minReadiesTrim groups (trimRounds).
	smallRounds int
	// gate is the number of groups the last round took: while a round is
	// syncing, the worker starts another only if as many are queued
	// (worker.go).
	gate int
}

// round is one batch of groups from the moment a worker takes it until
// it is finished: its Readys, its WAL batch and that batch's Pending.
type round struct {
	batch   []*replica
	readies []readyItem
	wb      *wal.Batch
	pending wal.Pending
	// syncing: the round submitted wb and finishes once pending is done.
	syncing bool
}

type readyItem struct {
	r  *replica
	rd raftgroup.Ready
	// applied counts the CommittedEntries already applied this round.
	applied int
}

// durableCommitted is how many of the Ready's committed entries were
// durable before this round: those below its first new entry. They may be
// applied (and their clients answered) while the round's fsync runs.
func (it *readyItem) durableCommitted() int {
	if len(it.rd.Entries) == 0 {
		return len(it.rd.CommittedEntries)
	}
	first := it.rd.Entries[0].Index
	n := 0
	for n < len(it.rd.CommittedEntries) && it.rd.CommittedEntries[n].Index < first {
		n++
	}
	return n
}

// start begins a round over rn.batch (see doc.go): step every input,
// collect the Readys, persist them in ONE WAL batch (one fsync) and send
// the messages that need not wait for it, and apply what was durable
// before. A round with nothing to sync is finished at once; otherwise it
// joins w.syncing and is finished when its batch is durable (worker.go).
func (w *worker) start(rn *round) {
	s := w.s
	if s.Err() != nil {
		// The store failed (fail-stop) and is closing. A round whose WAL
		// write failed took its groups' Readys without Advance: Raft counts
		// those entries as handed to storage, so the next Ready of such a
		// group would list them as committed but not as new, and this
		// round would apply them as durable although they never were
		// (the state machine then ran ahead of the log, and the node could
		// not restart: "applied beyond commit"). Nothing may be applied,
		// sent or answered any more.
		w.release(rn)
		return
	}
	for _, r := range rn.batch {
		if r.gone || (r.frozen != nil && w.thaw(r)) {
			continue
		}
		w.stepInputs(r)
		switch {
		case r.g.HasReady():
			rn.readies = append(rn.readies, readyItem{r: r, rd: r.g.Ready()})
		case r.removed:
			// Its last Ready is out: the replica leaves this node.
			w.destroy(r)
		default:
			// A quiesce message makes no Ready but stops the ticks.
			r.settle()
		}
	}
	if len(rn.readies) == 0 {
		w.countSmallRound(rn)
		w.release(rn)
		return
	}
	s.m.rounds.Add(1)
	s.m.roundGroups.Add(uint64(len(rn.readies)))
	w.persist(rn)
	// While the WAL syncs this round's writes, apply what was already
	// durable (on a leader, everything committed) and answer its clients.
	if err := w.apply(rn, true); err != nil {
		s.fail(err)
		w.release(rn)
		return
	}
	if !rn.syncing {
		w.finish(rn)
		return
	}
	w.syncing = append(w.syncing, rn)
}

// finish completes a round once its WAL batch is durable: send the
// messages that waited for it (votes, append acknowledgements), apply the
// rest of the committed entries in ONE state machine batch, answer
// clients, Advance every group, and end the groups' round.
func (w *worker) finish(rn *round) {
	s := w.s
	defer w.release(rn)
	if rn.syncing {
		if err := rn.pending.Err(); err != nil {
			s.fail(fmt.Errorf("shard: persisting round: %w", err))
			return
		}
	}
	if s.Err() != nil {
		return // another round failed meanwhile: see start
	}
	for _, r := range rn.batch {
		if r.storage.wrote {
			r.storage.refresh()
		}
	}
	for i := range rn.readies {
		it := &rn.readies[i]
		it.r.storage.appended(it.rd.Entries, it.rd.Snapshot != nil)
	}
	w.sendAfterPersist(rn)
	if err := w.apply(rn, false); err != nil {
		s.fail(err)
		return
	}
	for i := range rn.readies {
		it := &rn.readies[i]
		w.answer(it.r, &it.rd)
		it.r.g.Advance(it.rd)
		it.r.storage.trimTail(it.r.applied)
		it.r.closeOutSnaps()
		it.r.settle()
		it.r.noteLeader()
		if it.r.g.HasReady() || it.r.removed {
			s.sched.enqueue(it.r)
		}
	}
	w.countSmallRound(rn)
}

// stepInputs feeds everything in r's inbox into its group.
func (w *worker) stepInputs(r *replica) {
	r.take(&w.in)
	if w.in.adopt != nil {
		w.takeAdoption(r, w.in.adopt)
		w.in.adopt = nil
	}
	g := r.g
	if w.in.wake {
		g.Wake()
	}
	initialized := r.descriptor().Initialized()
	for i := range w.in.msgs {
		if !initialized && isVoteRequest(w.in.msgs[i].Type) {
			continue // an uninitialized replica never votes (lifecycle.go)
		}
		if err := g.Step(w.in.msgs[i]); err != nil && !errors.Is(err, raftgroup.ErrStepLocal) {
			w.s.opts.Logger.Debug("shard: dropped message", "shard", r.id, "err", err)
		}
	}
	clear(w.in.msgs)
	// After the messages: one from the "dead" leader in this same inbox
	// shows it alive, and then it is kept.
	if w.in.deadLeader != raftpb.None && g.Leader() == w.in.deadLeader && g.ForgetLeader() && w.in.campaign {
		g.Campaign()
	}
	for _, rep := range w.in.snapReports {
		g.ReportSnapshot(rep.to, rep.failed)
	}
	for _, to := range w.in.unreachable {
		g.ReportUnreachable(to)
	}
	for _, p := range w.in.props {
		w.propose(r, p)
	}
	clear(w.in.props)
	for _, q := range w.in.reads {
		w.readIndex(r, q)
	}
	clear(w.in.reads)
	for range w.in.ticks {
		g.Tick()
	}
	if w.in.ticks > 0 {
		r.tickedAt = w.in.tickAt
	}
	for _, inst := range w.in.installs {
		w.acceptSnapshot(r, inst)
	}
	clear(w.in.installs)
}

func (w *worker) propose(r *replica, p *proposal) {
	var idx raftpb.Index
	var term raftpb.Term
	var err error
	switch p.kind {
	case propNormal:
		idx, term, err = r.g.Propose(p.data)
	case propStore:
		idx, term, err = r.g.ProposeStore(p.data)
	case propConf:
		idx, term, err = r.g.ProposeConfChange(p.cc)
	case propTransfer:
		if err := r.g.TransferLeader(p.to); err != nil {
			p.finish(nil, r.translate(err))
		} else {
			p.finish(nil, nil)
		}
		return
	case propStatus:
		w.status(r, p)
		return
	}
	if err != nil {
		p.finish(nil, r.translate(err))
		return
	}
	p.index, p.term = idx, term
	// NB: an earlier proposal may be pending at the same index with an
	// older term: this node's copy of it was replaced, but another node may
	// still hold it and commit it as leader. Its outcome is decided only
	// when the index is applied (apply.go), so both stay pending.
	if r.pending == nil {
		r.pending = make(map[raftpb.Index]*proposal)
	}
	p.next = r.pending[idx]
	r.pending[idx] = p
	w.s.m.proposals.Add(1)
}

func (w *worker) readIndex(r *replica, q *readReq) {
	r.nextRead++
	q.id = r.nextRead
	var err error
	if q.quorum {
		err = r.g.ReadIndexQuorum(q.id)
	} else {
		err = r.g.ReadIndex(q.id)
	}
	if err == nil && !q.quorum && w.s.opts.LeaseReads && !w.s.leaseFresh(r) {
		// The lease may have answered from a stale tick count: confirm
		// this read by a heartbeat round instead (tickclock.go). The
		// answer under the old ID, if any, finds no request and is
		// dropped.
		r.nextRead++
		q.id = r.nextRead
		err = r.g.ReadIndexQuorum(q.id)
	}
	if err != nil {
		q.finish(r.translate(err))
		return
	}
	if r.reads == nil {
		r.reads = make(map[uint64]*readReq)
	}
	r.reads[q.id] = q
	w.s.m.reads.Add(1)
}

// persist puts every Ready's snapshot mark, entries and hard state in one
// WAL batch, sends the messages that need not wait (leader appends), and
// submits the batch (rn.syncing; not if there was nothing to sync).
func (w *worker) persist(rn *round) {
	s := w.s
	if rn.wb == nil {
		rn.wb = s.wal.NewBatch()
	}
	wb := rn.wb
	wb.Reset()
	mustSync := false
	for _, r := range rn.batch {
		if r.frozen != nil {
			continue
		}
		if idx := r.truncation(); idx > 0 {
			if t, err := s.wal.Term(r.id, idx); err == nil {
				wb.Compact(r.id, idx, t)
				r.storage.wrote = true
				mustSync = true
				r.compactedIdx.Store(idx)
				s.m.truncations.Add(1)
			}
		}
	}
	for i := range rn.readies {
		it := &rn.readies[i]
		if snap := it.rd.Snapshot; snap != nil {
			wb.Compact(it.r.id, snap.Metadata.Index, snap.Metadata.Term)
			it.r.storage.wrote = true
		}
		if len(it.rd.Entries) > 0 {
			wb.Append(it.r.id, it.rd.Entries)
			it.r.storage.wrote = true
		}
		it.r.noteHardState(it.rd.HardState)
		mustSync = mustSync || it.rd.MustSync
		s.send(it.r, it.rd.Messages)
		w.readBeats = it.r.noteReadBeats(it.rd.Messages) || w.readBeats
	}
	w.flushReadBeats()
	if !mustSync {
		return // only commit indexes changed: see hardstate.go
	}
	for _, r := range rn.batch {
		writeHardState(wb, r)
	}
	if wb.Empty() {
		return
	}
	s.m.walBatches.Add(1)
	rn.pending, rn.syncing = s.wal.Submit(wb), true
}

func (w *worker) sendAfterPersist(rn *round) {
	for i := range rn.readies {
		it := &rn.readies[i]
		w.s.send(it.r, it.rd.MessagesAfterPersist)
		w.readBeats = it.r.noteReadBeats(it.rd.MessagesAfterPersist) || w.readBeats
	}
	w.flushReadBeats()
}

// translate turns a Raft core error into the store's.
func (r *replica) translate(err error) error {
	var nl *raftgroup.NotLeaderError
	switch {
	case errors.As(err, &nl):
		if nl.Leader == raftpb.None {
			return fmt.Errorf("%w: %w", ErrNoQuorum, &NotLeaderError{Shard: r.id})
		}
		return &NotLeaderError{Shard: r.id, Leader: nl.Leader}
	case errors.Is(err, raftgroup.ErrProposalDropped), errors.Is(err, raftgroup.ErrTransferInProgress):
		return fmt.Errorf("%w: %w", ErrProposalDropped, err)
	}
	return err
}

// noteLeader publishes the group's leader for routing.
func (r *replica) noteLeader() {
	if l := uint64(r.g.Leader()); r.leader.Swap(l) != l {
		r.notifyDesc()
	}
}
