package gossip

import "errors"

// Errors returned by this package. Each says whether a retry can help.
var (
	// ErrInvalidConfig: the Config cannot work (a bad address, a missing
	// node ID, a bad key length). Retrying the same Config never helps.
	ErrInvalidConfig = errors.New("gossip: invalid config")
	// ErrInvalidMeta: a Meta that cannot be advertised, or bytes that do
	// not decode to one. Not retryable.
	ErrInvalidMeta = errors.New("gossip: invalid node meta")
	// ErrMetaTooLarge: the encoded Meta exceeds MaxMetaBytes (shorten the
	// addresses). Not retryable.
	ErrMetaTooLarge = errors.New("gossip: node meta too large")
	// ErrClosed: Leave or Shutdown has been called. Not retryable.
	ErrClosed = errors.New("gossip: closed")
	// ErrUnknownNode: no member with that node ID is known. It may appear
	// after gossip spreads; retrying later can help.
	ErrUnknownNode = errors.New("gossip: unknown node")
	// ErrNodeDown: the member is known but Dead or Left, or advertises no
	// Raft address. Retrying helps once it rejoins.
	ErrNodeDown = errors.New("gossip: node not live")
	// ErrNodeIDInUse: Join found the cluster holding this node's ID as a
	// live member at another address: either another process runs with
	// the same ID (a misconfiguration) or this node restarted before the
	// cluster noticed its previous incarnation had failed. Retrying after
	// the failure-detection time (see the package doc) helps in the second
	// case only.
	ErrNodeIDInUse = errors.New("gossip: node ID already in use by a live member")
	// ErrBroadcastTimeout: a meta update or leave message was not fully
	// gossiped within the time allowed. The change is applied locally and
	// still spreads (push/pull repairs what gossip missed); retrying is
	// safe.
	ErrBroadcastTimeout = errors.New("gossip: broadcast not confirmed in time")
)
