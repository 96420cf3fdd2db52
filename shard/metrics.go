package shard

import "sync/atomic"

// counters are the store's live counters, updated with typed atomics.
type counters struct {
	rounds, roundGroups, walBatches   atomic.Uint64
	applyBatches, applied             atomic.Uint64
	proposals, reads, forwarded       atomic.Uint64
	messagesSent, messagesReceived    atomic.Uint64
	messagesDropped                   atomic.Uint64
	snapshotsSent, snapshotsInstalled atomic.Uint64
	ticks, syncPoints, truncations    atomic.Uint64
	replicasCreated, replicasRemoved  atomic.Uint64
	splits                            atomic.Uint64
	quiesced                          atomic.Int64
}

// Metrics is a snapshot of the store's counters, for the metrics
// endpoint. Counters only grow; gauges are current values.
type Metrics struct {
	Rounds uint64 // rounds that had work
	// GroupsPerRound is the mean number of groups with a Ready per round.
	GroupsPerRound                                  float64
	WALBatches                                      uint64 // WAL batches written (one write + fsync each, group-committed further by the WAL)
	Fsyncs                                          uint64 // fdatasync calls by the WAL
	EntriesPerSync                                  float64
	ApplyBatches                                    uint64 // state machine batches committed (one per round with applies)
	Applied                                         uint64 // entries applied
	Proposals                                       uint64
	Reads                                           uint64
	Forwarded                                       uint64 // requests forwarded to the leader's node
	MessagesSent, MessagesReceived, MessagesDropped uint64
	SnapshotsSent, SnapshotsInstalled               uint64
	SyncPoints, Truncations                         uint64
	Ticks                                           uint64
	// ReplicasCreated counts replicas created for a leader's message or by
	// PrepareReplica; ReplicasRemoved those destroyed after a membership
	// change left this node; Splits the splits applied here.
	ReplicasCreated, ReplicasRemoved, Splits uint64
	// ReadyQueueDepth is the number of replicas waiting for a round.
	ReadyQueueDepth int
	// Replicas and QuiescedReplicas are gauges.
	Replicas, QuiescedReplicas int
}

// Metrics returns the store's counters.
func (s *Store) Metrics() Metrics {
	m := Metrics{
		Rounds: s.m.rounds.Load(), WALBatches: s.m.walBatches.Load(),
		ApplyBatches: s.m.applyBatches.Load(), Applied: s.m.applied.Load(),
		Proposals: s.m.proposals.Load(), Reads: s.m.reads.Load(), Forwarded: s.m.forwarded.Load(),
		MessagesSent: s.m.messagesSent.Load(), MessagesReceived: s.m.messagesReceived.Load(),
		MessagesDropped: s.m.messagesDropped.Load(), SnapshotsSent: s.m.snapshotsSent.Load(),
		SnapshotsInstalled: s.m.snapshotsInstalled.Load(), SyncPoints: s.m.syncPoints.Load(),
		Truncations: s.m.truncations.Load(), Ticks: s.m.ticks.Load(),
		ReplicasCreated: s.m.replicasCreated.Load(), ReplicasRemoved: s.m.replicasRemoved.Load(),
		Splits:          s.m.splits.Load(),
		ReadyQueueDepth: s.sched.depth(), QuiescedReplicas: int(s.m.quiesced.Load()),
	}
	if m.Rounds > 0 {
		m.GroupsPerRound = float64(s.m.roundGroups.Load()) / float64(m.Rounds)
	}
	wm := s.wal.Metrics()
	m.Fsyncs = wm.Fsyncs
	if wm.Fsyncs > 0 {
		m.EntriesPerSync = float64(wm.Entries) / float64(wm.Fsyncs)
	}
	s.mu.RLock()
	m.Replicas = len(s.mu.replicas)
	s.mu.RUnlock()
	return m
}
