package transport

import (
	"sync/atomic"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Metrics is a snapshot of a transport's counters since New. All counts
// are cumulative; the server turns them into Prometheus series.
type Metrics struct {
	FramesSent     uint64 // batch frames handed to a connection
	FramesReceived uint64 // frames (batch and chunk) accepted
	// HeartbeatFramesSent counts frames that carried only coalesced
	// heartbeats (heartbeats also ride in message frames when any are
	// queued). With FlushHeartbeats called once per tick it is at most
	// peers x ticks, whatever the number of groups.
	HeartbeatFramesSent uint64
	// ReadHeartbeatFramesSent counts heartbeat-only frames sent early by
	// FlushReadHeartbeats: a linearizable read waits on a heartbeat round
	// trip, and one such frame carries every group's read round queued
	// for the peer (and the heartbeats queued since the last tick, which
	// then do not wait for it). At most one per peer per store round with
	// a new read round in it: they follow the read load, never the number
	// of groups.
	ReadHeartbeatFramesSent uint64
	MessagesSent            uint64 // Raft messages, heartbeats excluded
	MessagesReceived        uint64
	HeartbeatsSent          uint64
	HeartbeatsReceived      uint64
	// MessagesDropped counts messages (and heartbeats) dropped because a
	// peer queue was full, the frame could not be queued, the message was
	// larger than MaxFrameBytes, or it was invalid.
	MessagesDropped uint64
	BytesSent       uint64 // batch frame bytes
	BytesReceived   uint64 // all frame bytes
	// FramesRejected counts incoming frames refused as bad input
	// (truncated, oversized, corrupt, malformed, misrouted or from another
	// cluster); each closed its connection.
	FramesRejected    uint64
	ClusterMismatches uint64
	Dials             uint64
	DialFailures      uint64 // failed dials and failed handshakes

	SnapshotsSent           uint64 // streams acknowledged as installed
	SnapshotsReceived       uint64 // streams installed by the Handler
	SnapshotFailures        uint64 // SendSnapshot calls that gave up
	SnapshotInstallFailures uint64 // Handler refused a complete stream
	SnapshotStreamsAborted  uint64 // incoming streams discarded (broken, out of order, superseded, corrupt)
	SnapshotBytesSent       uint64 // compressed chunk frame bytes

	CallsSent   uint64 // outgoing Calls handed to a connection
	CallsFailed uint64 // outgoing Calls that returned an error
	CallsServed uint64 // incoming Calls answered by the CallHandler
	// CallsRefused counts incoming Calls answered without running: no
	// CallHandler, MaxConcurrentCalls reached, or closing.
	CallsRefused uint64
	// CallsActive is the number of incoming Calls running now (a gauge;
	// at most MaxConcurrentCalls).
	CallsActive int64
}

// metrics holds the live counters behind Metrics.
type metrics struct {
	framesSent, framesReceived, heartbeatFramesSent     atomic.Uint64
	readHeartbeatFramesSent                             atomic.Uint64
	messagesSent, messagesReceived                      atomic.Uint64
	heartbeatsSent, heartbeatsReceived, messagesDropped atomic.Uint64
	bytesSent, bytesReceived, framesRejected            atomic.Uint64
	clusterMismatches, dials, dialFailures              atomic.Uint64
	snapshotsSent, snapshotsReceived, snapshotFailures  atomic.Uint64
	snapshotInstallFailures, snapshotStreamsAborted     atomic.Uint64
	snapshotBytesSent                                   atomic.Uint64
	callsSent, callsFailed, callsServed, callsRefused   atomic.Uint64
	callsActive                                         atomic.Int64
}

func (m *metrics) snapshot() Metrics {
	return Metrics{
		FramesSent: m.framesSent.Load(), FramesReceived: m.framesReceived.Load(),
		HeartbeatFramesSent:     m.heartbeatFramesSent.Load(),
		ReadHeartbeatFramesSent: m.readHeartbeatFramesSent.Load(),
		MessagesSent:            m.messagesSent.Load(), MessagesReceived: m.messagesReceived.Load(),
		HeartbeatsSent: m.heartbeatsSent.Load(), HeartbeatsReceived: m.heartbeatsReceived.Load(),
		MessagesDropped: m.messagesDropped.Load(),
		BytesSent:       m.bytesSent.Load(), BytesReceived: m.bytesReceived.Load(),
		FramesRejected: m.framesRejected.Load(), ClusterMismatches: m.clusterMismatches.Load(),
		Dials: m.dials.Load(), DialFailures: m.dialFailures.Load(),
		SnapshotsSent: m.snapshotsSent.Load(), SnapshotsReceived: m.snapshotsReceived.Load(),
		SnapshotFailures: m.snapshotFailures.Load(), SnapshotInstallFailures: m.snapshotInstallFailures.Load(),
		SnapshotStreamsAborted: m.snapshotStreamsAborted.Load(), SnapshotBytesSent: m.snapshotBytesSent.Load(),
		CallsSent: m.callsSent.Load(), CallsFailed: m.callsFailed.Load(), CallsServed: m.callsServed.Load(),
		CallsRefused: m.callsRefused.Load(), CallsActive: m.callsActive.Load(),
	}
}

// PeerStatus is one peer's state, for admin status.
type PeerStatus struct {
	Node raftpb.NodeID
	// Connected: the message connection is up (handshake done).
	Connected bool
	// SnapshotConnected: the snapshot connection is up.
	SnapshotConnected bool
	// CallConnected: the call connection is up.
	CallConnected bool
	// LastError is the last dial or connection error ("" once a
	// connection succeeds).
	LastError        string
	Queued           int // Raft messages waiting
	QueuedHeartbeats int
	InflightFrames   int
	Dropped          uint64
	MessagesSent     uint64
	FramesSent       uint64
	BytesSent        uint64 // message and snapshot frame bytes
	BytesReceived    uint64
}

func (p *peer) status() PeerStatus {
	p.mu.Lock()
	q, qh := p.mu.queued, p.mu.hb.len()
	p.mu.Unlock()
	last := p.msg.lastError()
	if last == "" {
		last = p.snap.lastError()
	}
	if last == "" {
		last = p.call.lastError()
	}
	return PeerStatus{
		Node: p.id, Connected: p.msg.connected.Load(), SnapshotConnected: p.snap.connected.Load(),
		CallConnected: p.call.connected.Load(),
		LastError:     last, Queued: q, QueuedHeartbeats: qh, InflightFrames: int(p.inflight.Load()),
		Dropped: p.stats.dropped.Load(), MessagesSent: p.stats.messagesSent.Load(),
		FramesSent: p.stats.framesSent.Load(), BytesSent: p.stats.bytesSent.Load(),
		BytesReceived: p.stats.bytesReceived.Load(),
	}
}
