package shard

import (
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/wal"
)

// Commit-only hard states are not written on their own.
//
// A Ready whose hard state changed only in its commit index has MustSync
// false: Raft needs neither the commit index to survive a crash (a
// restarted node relearns it from the leader) nor to be durable before
// the round applies and answers, since every entry at or below it is
// durable here already (a follower's entries were synced by the round
// that appended them; a leader counts itself toward a commit only once
// its entries are durable). Writing it anyway cost one WAL write and one
// fdatasync per commit round, which on a leader sits between a quorum's
// acknowledgement and the client's answer, and made half of all fsyncs
// carry no entry.
//
// So a round whose Readys all have MustSync false writes nothing to the
// WAL; each replica keeps its newest hard state in unwrittenHS, and the
// next round of that replica that writes the WAL writes it too (a newer
// Ready.HardState replaces it). If the node crashes first, the state
// machine may have applied past the commit index the WAL recovers; see
// raftStorage.InitialState.

// noteHardState records rd's hard state as r's newest, not yet written.
func (r *replica) noteHardState(hs raftpb.HardState) {
	if !hs.IsEmpty() {
		r.unwrittenHS, r.hasUnwrittenHS = hs, true
	}
}

// writeHardState adds r's newest hard state to the round's WAL batch wb,
// if it has one not yet written.
func writeHardState(wb *wal.Batch, r *replica) {
	if r.hasUnwrittenHS {
		wb.SetHardState(r.id, r.unwrittenHS)
		r.hasUnwrittenHS = false
	}
}
