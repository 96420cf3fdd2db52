package transport

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Default values of Options. Zero fields take these in EnsureDefaults.
const (
	DefaultMaxFrameBytes          = 16 << 20
	DefaultMaxQueuedMessages      = 8192
	DefaultMaxQueuedHeartbeats    = 65536
	DefaultMaxInflightFrames      = 4
	DefaultSnapshotChunkBytes     = 1 << 20
	DefaultSnapshotBytesPerSec    = 128 << 20
	DefaultMaxSnapshotBytes       = 64 << 30
	DefaultMaxSnapshotAttempts    = 3
	DefaultMaxIncomingSnapshots   = 4
	DefaultSnapshotChunkTimeout   = 30 * time.Second
	DefaultSnapshotInstallTimeout = 5 * time.Minute
	DefaultDialTimeout            = 3 * time.Second
	DefaultMinBackoff             = 100 * time.Millisecond
	DefaultMaxBackoff             = 5 * time.Second
	DefaultMaxConcurrentCalls     = 1024
	DefaultMaxInflightCalls       = 1024
	DefaultCallTimeout            = 10 * time.Second
)

// maxQueuedHeartbeatsLimit keeps heartbeat buffer indexes within int32.
const maxQueuedHeartbeatsLimit = 1 << 24

// minFrameLimit is the smallest MaxFrameBytes Validate accepts: a frame
// must at least hold a header and one snapshot-chunk envelope.
const minFrameLimit = 4 << 10

// Options configures a Transport. The zero value of every field means "use
// the default" (see EnsureDefaults); New copies the Options it is given.
type Options struct {
	// NodeID is this node's ID. Required (non-zero).
	NodeID raftpb.NodeID
	// ClusterID is stamped on every frame; a frame carrying another
	// cluster ID is refused and its connection closed. Required (non-zero).
	ClusterID uint64
	// ListenAddr is the TCP address to serve on, e.g. "127.0.0.1:0".
	// Required; Transport.Addr reports the bound address.
	ListenAddr string
	// Resolver maps a peer NodeID to its address. Required. It is asked
	// on every dial, so an address change takes effect at the next
	// reconnect.
	Resolver Resolver
	// TLS enables mutual TLS between nodes. Nil means plaintext.
	TLS *TLSOptions

	// MaxFrameBytes bounds one frame on the wire, in both directions. A
	// larger incoming frame closes its connection; an outgoing message
	// that cannot fit is dropped and counted. Default 16 MiB, at least 4 KiB.
	MaxFrameBytes int
	// MaxQueuedMessages bounds the Raft messages (heartbeats excluded)
	// waiting for one peer. When full, Send drops and counts. Default 8192.
	MaxQueuedMessages int
	// MaxQueuedHeartbeats bounds the distinct (type, group) heartbeats
	// waiting for one peer's next flush. Default 65536, at most 2^24.
	MaxQueuedHeartbeats int
	// MaxInflightFrames bounds the frames handed to one peer's connection
	// and not yet written. While the bound is reached messages gather in
	// the queue and leave as one larger frame. Default 4.
	MaxInflightFrames int

	// SnapshotChunkBytes is the uncompressed size of one snapshot chunk.
	// Default 1 MiB (or MaxFrameBytes/2 if smaller); at most MaxFrameBytes/2.
	SnapshotChunkBytes int
	// SnapshotBytesPerSec limits the compressed bytes/s all outgoing
	// snapshot streams of this node send together. Default 128 MiB/s.
	SnapshotBytesPerSec int64
	// MaxSnapshotBytes bounds the uncompressed size of one received
	// snapshot. Default 64 GiB.
	MaxSnapshotBytes int64
	// MaxSnapshotAttempts is how many times SendSnapshot restarts a
	// broken stream from the beginning before giving up. Default 3.
	MaxSnapshotAttempts int
	// MaxIncomingSnapshots bounds the snapshot streams being received at
	// once; a stream beyond it is refused (the sender retries). Default 4.
	MaxIncomingSnapshots int
	// SnapshotChunkTimeout bounds the wait for one chunk's acknowledgement.
	// Default 30 s.
	SnapshotChunkTimeout time.Duration
	// SnapshotInstallTimeout bounds the wait for the last chunk's
	// acknowledgement, which comes once the receiver has installed the
	// snapshot. Default 5 min.
	SnapshotInstallTimeout time.Duration
	// SnapshotDir is where incoming snapshot streams are spooled until
	// complete and verified. Default os.TempDir().
	SnapshotDir string

	// MaxConcurrentCalls bounds the incoming Calls this node runs at once
	// (each in its own goroutine, all peers together); a Call beyond it is
	// answered at once with ErrCallRefused, without running. Default 1024.
	MaxConcurrentCalls int
	// MaxInflightCalls bounds the outgoing Calls waiting for one peer's
	// answers; a Call beyond it fails at once with ErrCallRefused. Default
	// 1024.
	MaxInflightCalls int
	// CallTimeout bounds a Call whose ctx has no deadline. Default 10 s.
	CallTimeout time.Duration

	// DialTimeout bounds one TCP dial. Default 3 s.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the exponential, jittered delay
	// between failed dials to one peer. Defaults 100 ms and 5 s. NB:
	// fastrpc itself waits 1 s after a failed dial, so in practice the
	// delay is never below 1 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Seed seeds the backoff jitter. Zero means a seed taken from the clock.
	Seed uint64
	// Logger receives the transport's (and fastrpc's) logs. Default
	// slog.Default().
	Logger *slog.Logger
	// Events are optional callbacks.
	Events EventListener
}

// TLSOptions names the PEM files for mutual TLS. Every node presents
// CertFile/KeyFile and accepts only peers whose certificate chains to CAFile.
type TLSOptions struct {
	CertFile string
	KeyFile  string
	CAFile   string
	// ServerName, if set, is the name expected in every peer's server
	// certificate. Empty means the host part of the resolved address.
	ServerName string
}

// EventListener holds optional callbacks. They run on transport goroutines
// and must not block.
type EventListener struct {
	// PeerConnected is called when a connection to peer is up (after the
	// handshake).
	PeerConnected func(peer raftpb.NodeID)
	// PeerUnreachable is called when a dial to peer fails or its
	// connection breaks. The store reports it to Raft.
	PeerUnreachable func(peer raftpb.NodeID, err error)
	// FrameRejected is called when an incoming frame is refused (bad
	// input, another cluster, misrouted); its connection is then closed.
	FrameRejected func(remoteAddr string, err error)
}

// EnsureDefaults fills every zero field with its default.
func (o *Options) EnsureDefaults() {
	setInt(&o.MaxFrameBytes, DefaultMaxFrameBytes)
	setInt(&o.MaxQueuedMessages, DefaultMaxQueuedMessages)
	setInt(&o.MaxQueuedHeartbeats, DefaultMaxQueuedHeartbeats)
	setInt(&o.MaxInflightFrames, DefaultMaxInflightFrames)
	setInt(&o.SnapshotChunkBytes, min(DefaultSnapshotChunkBytes, o.MaxFrameBytes/2))
	setInt(&o.MaxSnapshotAttempts, DefaultMaxSnapshotAttempts)
	setInt(&o.MaxIncomingSnapshots, DefaultMaxIncomingSnapshots)
	setInt(&o.MaxConcurrentCalls, DefaultMaxConcurrentCalls)
	setInt(&o.MaxInflightCalls, DefaultMaxInflightCalls)
	setDur(&o.CallTimeout, DefaultCallTimeout)
	if o.SnapshotBytesPerSec == 0 {
		o.SnapshotBytesPerSec = DefaultSnapshotBytesPerSec
	}
	if o.MaxSnapshotBytes == 0 {
		o.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	setDur(&o.SnapshotChunkTimeout, DefaultSnapshotChunkTimeout)
	setDur(&o.SnapshotInstallTimeout, DefaultSnapshotInstallTimeout)
	setDur(&o.DialTimeout, DefaultDialTimeout)
	setDur(&o.MinBackoff, DefaultMinBackoff)
	setDur(&o.MaxBackoff, DefaultMaxBackoff)
	if o.SnapshotDir == "" {
		o.SnapshotDir = os.TempDir()
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidOptions.
// Call it after EnsureDefaults.
func (o *Options) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	switch {
	case o.NodeID == raftpb.None:
		return bad("NodeID is required")
	case o.ClusterID == 0:
		return bad("ClusterID is required")
	case o.ListenAddr == "":
		return bad("ListenAddr is required")
	case o.Resolver == nil:
		return bad("Resolver is required")
	case o.MaxFrameBytes < minFrameLimit || o.MaxFrameBytes > maxFrameLimit:
		return bad("MaxFrameBytes %d outside [%d, %d]", o.MaxFrameBytes, minFrameLimit, maxFrameLimit)
	case o.SnapshotChunkBytes < 1 || o.SnapshotChunkBytes > o.MaxFrameBytes/2:
		return bad("SnapshotChunkBytes %d outside [1, MaxFrameBytes/2]", o.SnapshotChunkBytes)
	case o.MaxQueuedMessages < 1 || o.MaxQueuedHeartbeats < 1 || o.MaxInflightFrames < 1:
		return bad("queue bounds must be positive")
	case o.MaxQueuedHeartbeats > maxQueuedHeartbeatsLimit:
		return bad("MaxQueuedHeartbeats %d above %d", o.MaxQueuedHeartbeats, maxQueuedHeartbeatsLimit)
	case o.SnapshotBytesPerSec < 1 || o.MaxSnapshotBytes < 1:
		return bad("snapshot byte limits must be positive")
	case o.MaxSnapshotAttempts < 1 || o.MaxIncomingSnapshots < 1:
		return bad("snapshot counts must be positive")
	case o.MaxConcurrentCalls < 1 || o.MaxInflightCalls < 1:
		return bad("call bounds must be positive")
	case o.MinBackoff <= 0 || o.MaxBackoff < o.MinBackoff:
		return bad("backoff %v..%v is not an interval", o.MinBackoff, o.MaxBackoff)
	case o.DialTimeout <= 0 || o.SnapshotChunkTimeout <= 0 || o.SnapshotInstallTimeout <= 0 || o.CallTimeout <= 0:
		return bad("timeouts must be positive")
	case o.TLS != nil && (o.TLS.CertFile == "" || o.TLS.KeyFile == "" || o.TLS.CAFile == ""):
		return bad("TLS needs CertFile, KeyFile and CAFile")
	}
	return nil
}

// String prints the effective options (without the resolver, logger or
// callbacks) for status output.
func (o *Options) String() string {
	return fmt.Sprintf("node=%d cluster=%d listen=%s tls=%t max_frame=%d max_queued=%d max_queued_hb=%d "+
		"inflight_frames=%d snap_chunk=%d snap_rate=%d/s max_snap=%d snap_attempts=%d incoming_snaps=%d "+
		"max_calls=%d inflight_calls=%d call_timeout=%v dial_timeout=%v backoff=%v..%v",
		o.NodeID, o.ClusterID, o.ListenAddr, o.TLS != nil, o.MaxFrameBytes, o.MaxQueuedMessages,
		o.MaxQueuedHeartbeats, o.MaxInflightFrames, o.SnapshotChunkBytes, o.SnapshotBytesPerSec,
		o.MaxSnapshotBytes, o.MaxSnapshotAttempts, o.MaxIncomingSnapshots, o.MaxConcurrentCalls,
		o.MaxInflightCalls, o.CallTimeout, o.DialTimeout, o.MinBackoff, o.MaxBackoff)
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setDur(p *time.Duration, def time.Duration) {
	if *p == 0 {
		*p = def
	}
}
