package shard

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// readBeat is the latest read-index round a replica has sent a heartbeat
// or heartbeat response for. Round-owned.
//
// Why: heartbeat-type messages are coalesced by the transport and leave
// when the ticker flushes them, once per tick. A linearizable read waits
// for a heartbeat round trip, so without an early flush it waits for the
// leader's next flush and then the follower's: about a tick on average.
// A heartbeat (or response) that carries a read round newer than any this
// replica sent before means a read is waiting on it, and the round flushes
// the transport's heartbeats right after sending. Periodic heartbeats
// repeat the last round's number, so an idle node still sends at most one
// heartbeat frame per peer per tick.
type readBeat struct {
	term raftpb.Term
	ctx  uint64
}

// noteReadBeats reports whether msgs carry a read round newer than r has
// sent, and records it.
func (r *replica) noteReadBeats(msgs []raftpb.Message) bool {
	fresh := false
	for i := range msgs {
		m := &msgs[i]
		if m.Type != raftpb.MsgHeartbeat && m.Type != raftpb.MsgHeartbeatResp || m.Context == 0 {
			continue
		}
		if m.Term > r.readBeat.term || m.Term == r.readBeat.term && m.Context > r.readBeat.ctx {
			r.readBeat = readBeat{term: m.Term, ctx: m.Context}
			fresh = true
		}
	}
	return fresh
}

// flushReadBeats flushes the transport's heartbeats if this round queued a
// fresh read round (see readBeat).
func (w *worker) flushReadBeats() {
	if w.readBeats && w.s.tr != nil {
		w.s.tr.FlushReadHeartbeats()
	}
	w.readBeats = false
}
