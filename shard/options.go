package shard

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/transport"
	"github.com/flotilladb/flotilla/wal"
)

// Defaults of Options; zero fields take these.
const (
	DefaultTickInterval      = 100 * time.Millisecond
	DefaultElectionTicks     = 10
	DefaultHeartbeatTicks    = 1
	DefaultSyncInterval      = time.Second
	DefaultMaxLogEntries     = 10000
	DefaultMaxRoundGroups    = 1024
	DefaultMaxSyncingRounds  = 1
	maxSyncingRounds         = 64
	DefaultMaxInboxMessages  = 4096
	DefaultMaxProposalBytes  = 8 << 20
	DefaultRequestTimeout    = 10 * time.Second
	DefaultClusterID         = 1
	DefaultSnapshotSendLimit = 4
)

// Options configures a Store. Zero values take the documented defaults;
// Open copies the Options.
type Options struct {
	// Dir is the node's data directory (the WAL in Dir/wal, the state
	// machine in Dir/kv). Required.
	Dir string
	// NodeID is this node's ID, never reused. Default 1 (single node).
	NodeID raftpb.NodeID
	// ClusterID is stamped on every frame between nodes. Default 1.
	ClusterID uint64
	// ListenAddr is the node-to-node (Raft) address, e.g.
	// "127.0.0.1:7000". Empty for a single node without peers.
	ListenAddr string
	// Peers maps every node of a static cluster (this one included) to its
	// Raft address. Empty for a single node. Placement replaces it with
	// gossip.
	Peers map[raftpb.NodeID]string
	// Transport, if set, replaces the TCP transport (tests pass an
	// in-memory one). The store then serves as the Handler given to
	// it by the caller via Store.Handler.
	Transport transport.Sender
	// Caller, with Transport, carries forwarded requests to the leader's
	// node. The node on the other side must pass them to Store.HandleCall.
	// Nil means Transport itself if it implements Caller (as
	// *transport.Transport and *transport.MemTransport do, delivering to
	// the Handler from Store.Handler), else none: requests at a non-leader
	// then fail with *NotLeaderError. Without Transport, the store's own
	// TCP transport carries them.
	Caller Caller
	// TransportOptions tunes the TCP transport (NodeID, ClusterID,
	// ListenAddr and Resolver are filled in by the store).
	TransportOptions transport.Options
	// Resolver, if set, gives the Raft addresses of other nodes instead of
	// Peers (placement fills it from gossip); the TCP transport then runs
	// on ListenAddr even when Peers is empty.
	Resolver transport.Resolver
	// Directory, if set, locates shards this node does not host, so
	// requests for them are forwarded (placement's cached meta shard).
	Directory Directory

	// SplitKeys are the keys at which the key space is split into initial
	// shards when a new cluster is bootstrapped: n keys make n+1 shards.
	// Every node of a static cluster must be given the same keys.
	SplitKeys [][]byte
	// FirstShardID is the ID of the first initial shard; the rest follow.
	// Default 1 (shard 0 is reserved for the meta shard).
	FirstShardID ShardID
	// InitialShards, if set, replaces SplitKeys and Peers as the plan of a
	// new cluster: each descriptor (with its Replicas as voters) is
	// bootstrapped on the nodes it names. It may include the meta shard
	// (MetaShardID). Every bootstrapping node must get the same list.
	InitialShards []Descriptor
	// Join makes a node without data start empty instead of
	// bootstrapping: it joins an existing cluster and gets replicas when
	// placement adds it to shards.
	Join bool

	// TickInterval is the Raft tick. Default 100ms.
	TickInterval time.Duration
	// ElectionTicks and HeartbeatTicks: Raft timeouts in ticks. Defaults
	// 10 and 1.
	ElectionTicks, HeartbeatTicks int
	// Workers is the number of round workers. Default GOMAXPROCS (which
	// the program should raise above one per core: see
	// RecommendedGOMAXPROCS).
	Workers int
	// MaxRoundGroups bounds the groups one round takes. Default 1024.
	MaxRoundGroups int
	// MaxSyncingRounds bounds the rounds one worker has handed to the WAL
	// and not finished yet (waiting for their fsync): a worker at the
	// bound waits for its oldest before it takes more groups. 1 (the
	// default) makes every round wait for its own sync before the worker
	// starts the next; more lets a worker go on while its syncs run,
	// which pays only where an fsync takes long next to a round's CPU
	// (measured on a virtual machine whose fdatasync takes about 0.2 ms,
	// 4 gave no more throughput than 1: docs/benchmarks.md). At most 64.
	MaxSyncingRounds int
	// MaxInboxMessages bounds the messages queued for one replica between
	// rounds; more are dropped (Raft tolerates loss). Default 4096.
	MaxInboxMessages int
	// MaxProposalBytes bounds one command. Default 8 MiB.
	MaxProposalBytes int
	// SyncInterval is the period of state machine sync points, after
	// which logs may be truncated. Default 1s.
	SyncInterval time.Duration
	// MaxLogEntries: a shard's log is truncated once it holds more than
	// this many applied and durable entries. Default 10000.
	MaxLogEntries int
	// LeaseReads lets reads with ReadLease consistency be served from the
	// leader's lease (see raftgroup's doc on the clock-drift assumption).
	// Default off: ReadLease reads then behave as linearizable ones.
	LeaseReads bool
	// DisableQuiesce keeps idle groups ticking. Default off.
	DisableQuiesce bool
	// EagerCommit sends followers each new commit index at once, in an
	// empty append they acknowledge, so that they apply an entry a round
	// trip after the leader does. Default off: followers learn the commit
	// index from the leader's next append, heartbeat or quiesce message
	// (raftgroup.Config.LazyCommit), up to a heartbeat interval later,
	// which only stale follower reads can observe; it halves the
	// messages per write when writes are spread over many shards.
	EagerCommit bool
	// RequestTimeout bounds a request whose context has no deadline.
	// Default 10s.
	RequestTimeout time.Duration

	// StateMachine, if set, replaces the default pebble key-value store.
	// The store takes ownership and closes it.
	StateMachine StateMachine
	// KV tunes the default state machine.
	KV KVOptions
	// WAL tunes the write-ahead log (Dir is filled in by the store).
	WAL wal.Options

	// Logger receives the store's logs. Default: discard.
	Logger *slog.Logger
	// Seed seeds Raft election jitter. Default: the node ID.
	Seed uint64
}

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	if o.NodeID == 0 {
		o.NodeID = 1
	}
	if o.ClusterID == 0 {
		o.ClusterID = DefaultClusterID
	}
	if o.FirstShardID == 0 {
		o.FirstShardID = 1
	}
	if o.TickInterval == 0 {
		o.TickInterval = DefaultTickInterval
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = DefaultElectionTicks
	}
	if o.HeartbeatTicks == 0 {
		o.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxRoundGroups == 0 {
		o.MaxRoundGroups = DefaultMaxRoundGroups
	}
	if o.MaxSyncingRounds == 0 {
		o.MaxSyncingRounds = DefaultMaxSyncingRounds
	}
	if o.MaxInboxMessages == 0 {
		o.MaxInboxMessages = DefaultMaxInboxMessages
	}
	if o.MaxProposalBytes == 0 {
		o.MaxProposalBytes = DefaultMaxProposalBytes
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.MaxLogEntries == 0 {
		o.MaxLogEntries = DefaultMaxLogEntries
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Seed == 0 {
		o.Seed = uint64(o.NodeID)
	}
	return o
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("shard: Options.Dir is required")
	case o.MaxSyncingRounds < 0 || o.MaxRoundGroups < 0 || o.Workers < 0:
		return errors.New("shard: Options.Workers, MaxRoundGroups and MaxSyncingRounds must not be negative")
	case o.MaxSyncingRounds > maxSyncingRounds:
		return fmt.Errorf("shard: Options.MaxSyncingRounds %d above %d", o.MaxSyncingRounds, maxSyncingRounds)
	case o.ElectionTicks <= o.HeartbeatTicks:
		return fmt.Errorf("shard: ElectionTicks %d must exceed HeartbeatTicks %d", o.ElectionTicks, o.HeartbeatTicks)
	case len(o.Peers) > 0 && o.Peers[o.NodeID] == "" && o.Transport == nil:
		return fmt.Errorf("shard: Peers lacks this node (%d)", o.NodeID)
	}
	for i := 1; i < len(o.SplitKeys); i++ {
		if string(o.SplitKeys[i-1]) >= string(o.SplitKeys[i]) {
			return fmt.Errorf("shard: SplitKeys not strictly increasing at %d", i)
		}
	}
	return nil
}

func (o *Options) String() string {
	return fmt.Sprintf("node=%d dir=%s peers=%d shards=%d tick=%v election=%d heartbeat=%d workers=%d lease=%v quiesce=%v eagercommit=%v",
		o.NodeID, o.Dir, len(o.Peers), len(o.SplitKeys)+1, o.TickInterval, o.ElectionTicks, o.HeartbeatTicks,
		o.Workers, o.LeaseReads, !o.DisableQuiesce, o.EagerCommit)
}
