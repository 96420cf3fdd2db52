package transport

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// hbSlot maps a heartbeat type to its index map: one map per type, keyed
// by group, so lookups use the runtime's fast path for uint64 keys (a
// struct key hashed through the generic path cost 60% of the heartbeat
// benchmark's CPU).
func hbSlot(t raftpb.MessageType) int {
	switch t {
	case raftpb.MsgHeartbeat:
		return 0
	case raftpb.MsgHeartbeatResp:
		return 1
	}
	return 2 // MsgQuiesce
}

// hbBuffer gathers the heartbeat-type messages (MsgHeartbeat,
// MsgHeartbeatResp, MsgQuiesce) queued for one peer between two flushes.
//
// It keeps at most one message per (type, group): a newer one replaces the
// older in place. Raft loses nothing by this (a heartbeat carries only the
// latest term, commit and read context, and heartbeats may be lost
// anyway), and it bounds the buffer by the number of groups when a peer is
// slow, instead of by groups x ticks.
//
// Why one frame per flush and not per group: with 10,000 groups led on a
// node, sending each group's heartbeat as its own message costs 10,000
// frames per peer per tick; the coalesced list costs one frame of about
// eight bytes per group. CockroachDB coalesces the same way; here the
// store's ticker decides when the list leaves (Transport.FlushHeartbeats).
//
// Invariant: index[hbSlot(t)][g] == i iff list[i] has type t and group g.
// Not safe for concurrent use; the peer's mutex guards it.
type hbBuffer struct {
	index [3]map[raftpb.GroupID]int32
	list  []raftpb.Message
}

// add queues m, replacing an earlier message of the same (type, group). It
// returns false (m dropped) when m is new and max slots are taken.
func (b *hbBuffer) add(m *raftpb.Message, max int) bool {
	idx := b.index[hbSlot(m.Type)]
	if idx == nil {
		idx = make(map[raftpb.GroupID]int32)
		b.index[hbSlot(m.Type)] = idx
	}
	if i, ok := idx[m.Group]; ok {
		b.list[i] = heartbeatOnly(m)
		return true
	}
	if len(b.list) >= max {
		return false
	}
	idx[m.Group] = int32(len(b.list))
	b.list = append(b.list, heartbeatOnly(m))
	return true
}

// take returns the queued heartbeats and leaves the buffer empty, reusing
// spare's storage for the next round.
func (b *hbBuffer) take(spare []raftpb.Message) []raftpb.Message {
	out := b.list
	b.list = spare[:0]
	for _, idx := range b.index {
		clear(idx)
	}
	return out
}

func (b *hbBuffer) len() int { return len(b.list) }

// heartbeatOnly keeps the fields a heartbeat-type message may use, so the
// buffer pins no entries or snapshot.
func heartbeatOnly(m *raftpb.Message) raftpb.Message {
	return raftpb.Message{Type: m.Type, Group: m.Group, From: m.From, To: m.To, Term: m.Term, Commit: m.Commit, Context: m.Context}
}
