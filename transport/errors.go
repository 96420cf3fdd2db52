package transport

import "errors"

// Errors returned by the transport. Each says whether a retry can help.
var (
	// ErrClosed is returned by calls on a closed Transport. Not retryable.
	ErrClosed = errors.New("transport: closed")

	// ErrBadFrame marks every decoding failure of bytes read from the
	// network (truncated, oversized, bad checksum, malformed fields). The
	// connection that carried the frame is closed; the peer may reconnect.
	ErrBadFrame = errors.New("transport: bad frame")

	// ErrClusterMismatch marks a frame whose cluster ID is not ours. The
	// connection is closed. Not retryable: the peer belongs elsewhere.
	ErrClusterMismatch = errors.New("transport: frame from another cluster")

	// ErrMisrouted marks a frame addressed to another node ID. The
	// connection is closed; the sender's resolver is stale.
	ErrMisrouted = errors.New("transport: frame addressed to another node")

	// ErrUnknownPeer is returned when the resolver has no address for a
	// node. Retryable once placement learns the address.
	ErrUnknownPeer = errors.New("transport: no address for node")

	// ErrSnapshotFailed wraps every failure of SendSnapshot after its
	// attempts are exhausted. The caller (Raft) retries later with a
	// fresh snapshot.
	ErrSnapshotFailed = errors.New("transport: snapshot not delivered")

	// ErrSnapshotRejected is returned by SendSnapshot when the receiver
	// received the whole stream but its Handler refused to install it.
	ErrSnapshotRejected = errors.New("transport: snapshot rejected by receiver")

	// ErrUnreachable is returned by Call when no connection to the peer
	// could be made or it broke before the answer. A request already sent
	// may have run: retry only what is safe to run twice.
	ErrUnreachable = errors.New("transport: peer unreachable")

	// ErrTimeout is returned by Call when no answer came by the deadline
	// (ctx's error is wrapped too when ctx ended). The request may have
	// run: retry only what is safe to run twice.
	ErrTimeout = errors.New("transport: call timed out")

	// ErrCallRefused is returned by Call when the request was not run:
	// the callee has no CallHandler, runs MaxConcurrentCalls already or is
	// closing, or this node has MaxInflightCalls waiting for the peer.
	// Retrying is safe (later, or elsewhere).
	ErrCallRefused = errors.New("transport: call refused")

	// ErrCallTooLarge is returned by Call when the request does not fit
	// MaxFrameBytes (not sent) or the callee's answer did not (it ran).
	ErrCallTooLarge = errors.New("transport: call too large")

	// ErrInvalidOptions wraps every Options.Validate failure.
	ErrInvalidOptions = errors.New("transport: invalid options")
)
