// Package gossip is a node's membership in its cluster and its failure
// detector, built on github.com/hashicorp/memberlist (v0.7.0).
//
// # Role
//
// Every node runs one [Gossip]. It advertises the node's [Meta] (node ID,
// cluster ID, Raft, client and HTTP addresses, capacity, draining), joins
// the cluster through seed addresses, and keeps a table of the members it
// knows with their [State]. Membership changes are delivered as [Events]
// (Join, Update, Dead, Leave): placement uses them to track nodes, the
// node store wakes the Raft groups led from a node reported Dead, and
// [Gossip.Resolve] (a transport.Resolver) gives the transport each live
// member's Raft address. The package is never on the data path: nothing
// here is consulted per request except Resolve, on a dial.
//
// # API
//
//	g, err := gossip.New(gossip.Config{BindAddr: "10.0.0.5:7946", Meta: meta, Events: ev})
//	n, err := g.Join(seeds)      // "host:port" gossip addresses; its own is skipped
//	g.Members(); g.Member(id)    // this node's view, itself included
//	g.UpdateMeta(meta)           // e.g. Draining or Capacity; spreads to the others
//	g.Resolve(id)                // Raft address of a live member
//	g.Leave(timeout)             // graceful: others report Left; then shuts down
//	g.Shutdown()                 // others report Dead after their detection time
//
// # Invariants
//
//   - A node's memberlist name is "node-<NodeID>" and nothing else, so
//     every incarnation of a node has the same name: a node restarted with
//     the same NodeID replaces its previous incarnation (on the same
//     address during its Join; on another once the cluster has declared
//     the previous one failed or left; see Timing).
//   - Only members of this cluster are ever reported. Every packet and
//     stream carries the label "flotilla-cluster-<ClusterID>" (memberlist
//     drops traffic with another label, so foreign clusters cannot even
//     exchange state); behind it, memberlist's alive and merge delegates
//     refuse any node whose metadata does not decode, names another
//     cluster, or carries a NodeID other than the one its name was derived
//     from.
//   - Two live processes never share a NodeID in the table. A newcomer
//     claiming the NodeID of a live member is refused: its Join fails with
//     [ErrNodeIDInUse] (when the seed's view shows the other one live) and
//     memberlist on the other nodes ignores it (its conflict check; this
//     package logs the refusal as an error).
//   - Events are delivered from one goroutine, one at a time, in the order
//     this node saw the changes, and never while this package holds a
//     lock. The member table is updated before the event is queued, so a
//     callback that reads Members, Member or Resolve sees its own event's
//     change (or a newer one). The local node's own Join is the first event;
//     its own departure is never reported.
//   - Everything is bounded: at most [MaxPendingEvents] undelivered events
//     (a pending Update is replaced by a newer one of the same member;
//     beyond the bound events are dropped and logged, the table stays
//     exact); at most 1,024 Dead and Left members remembered.
//   - memberlist's callbacks never block and never call back into
//     memberlist (they run under its node lock).
//   - Bad input never panics: [Meta.UnmarshalBinary] returns an error for
//     any bytes it cannot decode (fuzzed by FuzzDecodeMeta), a Meta whose
//     encoding exceeds memberlist's 512-byte limit is refused with
//     [ErrMetaTooLarge] (memberlist itself would panic), and Leave after
//     Shutdown returns [ErrClosed] (memberlist would panic).
//
// # Dead, Left and Suspect
//
// memberlist v0.7.0 reports a failure and a graceful leave through the
// same callback, and the Node it passes always has State == StateAlive:
// its internal node state shadows the exported field
// (hashicorp/memberlist#293; #321 would fix it). So a leaving node first
// advertises a "leaving" flag in its metadata (one meta update, waited
// for) and only then sends memberlist's leave message; a peer reports
// Left if the last metadata it holds from the departed node carries the
// flag, Dead otherwise. A node is therefore reported Left only if it
// called Leave; a peer that missed the flag update (UDP loss, or the leave
// message overtaking it) reports Dead, the conservative answer.
//
// memberlist raises no callback when it starts suspecting a node, and
// neither its events nor Members expose the suspect state. This package
// therefore never reports [Suspect]: the first sign of a failing node is
// Dead, after the failure-detection time below. The state exists so that
// callers already handle it when a memberlist release exposes suspicion.
//
// # Timing
//
// The two profiles, with memberlist's numbers:
//
//	                           LAN (DefaultLANConfig)   Loopback (DefaultLocalConfig, faster)
//	ProbeInterval              1 s                      200 ms
//	ProbeTimeout               500 ms                   100 ms
//	IndirectChecks             3                        1
//	SuspicionMult              4                        3
//	SuspicionMaxTimeoutMult    6                        2
//	GossipInterval, nodes      200 ms, 3                50 ms, 3
//	RetransmitMult             4                        2
//	PushPullInterval           30 s                     1 s
//	GossipToTheDeadTime        30 s                     2 s
//	TCPTimeout                 10 s                     1 s
//	DeadNodeReclaimTime        2 s                      500 ms   (10 gossip intervals; set by this package)
//	meta update wait           5 s                      1.25 s   (25 gossip intervals; UpdateMeta, Leave)
//
// A failed node is found by the first probe of it that fails (every node
// probes one member per ProbeInterval, going round its shuffled list, so
// some node usually probes it within about a ProbeInterval) and is
// declared Dead when its suspicion times out: SuspicionMult × max(1,
// log10 N) × ProbeInterval (LAN 4 s, Loopback 600 ms below 10 nodes). If
// enough members exist to confirm the suspicion (N ≥ SuspicionMult), the
// timeout starts at SuspicionMaxTimeoutMult times that (LAN 24 s,
// Loopback 1.2 s) and shrinks as confirmations arrive. A node whose own
// probes are late stretches its ProbeInterval up to 8×. Measured on
// loopback (one process, 2 vCPU): 3 nodes see a Shutdown node Dead after
// about 1 s with Loopback (TestShutdownSeenDead logs it) and about 5.8 s
// with LAN (DEPENDENCIES.md). A Leave is seen within tens of
// milliseconds: it returns once the leave is gossiped.
//
// A node restarted with the same NodeID on the same address takes over
// its previous incarnation during its Join: the state exchange shows it
// what the cluster holds about its name (alive with other metadata, or
// failed, or left), and memberlist refutes that with a higher incarnation
// number. On another address it is accepted once the others have
// declared its previous incarnation Left, or Dead with DeadNodeReclaimTime
// passed since. Its Join notices when a seed still remembers the old
// address as Dead, waits the reclaim time and announces the node again,
// so such a Join takes that much longer. If it restarts on another
// address before the others noticed the failure, Join fails with
// ErrNodeIDInUse until they do; the caller retries. memberlist compares
// incarnation numbers, which restart from 1, so a restarted (or left and
// rejoined) node may be reported Dead once more while stale gossip about
// its previous incarnation dies out; it refutes that at once and is
// reported Join again (within a second with Loopback in the tests).
//
// All members' views converge by gossip and, for anything gossip missed,
// by the periodic push/pull; joining through one seed settles in a few
// gossip rounds, and within a push/pull interval at worst. Pass every
// known address to Join to settle faster.
//
// A network partition that outlasts GossipToTheDeadTime would split the
// membership for good: each side holds the other Dead, memberlist stops
// gossiping to Dead members after that time and pushes and pulls only
// with Alive ones. So every 5 s (250 ms with Loopback) a node exchanges
// state with one member it holds Dead, for up to a day after its death;
// the exchange shows each side the other's claim that it is dead, both
// refute it, and both are Alive again within a few rounds of the network
// healing (TestPartitionOutlastingGossipToTheDeadHeals).
//
// # Meta encoding
//
// Node metadata is at most 512 bytes ([MaxMetaBytes], memberlist's limit):
//
//	field        encoding
//	version      1 byte, 1
//	NodeID       uvarint, not 0
//	ClusterID    uvarint
//	flags        1 byte: bit 0 Draining, bit 1 leaving; other bits ignored
//	Capacity     uvarint, bytes
//	RaftAddr     uvarint length, then bytes ("host:port" or empty)
//	ClientAddr   uvarint length, then bytes
//	HTTPAddr     uvarint length, then bytes
//
// A version-1 encoding has nothing after HTTPAddr. A later version may
// only append fields; version-1 readers ignore what follows.
//
// # Concurrency
//
// A Gossip is safe for concurrent use. Join, UpdateMeta, Leave and
// Shutdown are serialized; Members, Member and Resolve only read the
// table. memberlist runs its own goroutines; this package adds one, the
// event dispatcher. Shutdown (and Leave, which ends in it) stops
// memberlist, drops undelivered events and returns once no callback runs,
// so callbacks must not call Leave or Shutdown.
package gossip
