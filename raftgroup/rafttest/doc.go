// Package rafttest is a deterministic simulator of a Raft group built from
// raftgroup replicas. It runs 3, 5 or 7 replicas (plus replicas added by
// membership changes) over a simulated network and simulated disks under
// faults chosen by a seed, and checks Raft's safety properties after every
// step. A failing seed replays exactly: every choice comes from one PCG
// source seeded by it, nothing ranges over a map, and there is no clock
// (time is a tick counter) and no goroutine.
//
// # Each step
//
// A run is a sequence of steps; each picks one action at random, weighted
// so that pending work keeps up with the clock: deliver a message, hand out
// a replica's Ready, complete a replica's persist, tick every replica,
// propose a write, start a read, propose a membership change, transfer
// leadership, snapshot and compact a replica's log, crash or restart a
// node, or change the partitions.
//
// # The host model
//
// A replica's host follows the Ready contract with asynchronous
// persistence. When it takes a Ready it sends Messages at once (a leader
// replicates before its own write is durable) and keeps the rest pending;
// a later step completes the persist: snapshot, entries and hard state go
// into the durable MemoryStorage, MessagesAfterPersist are sent, committed
// entries are applied to the state machine, and Advance is called. One
// Ready is outstanding per replica; Step and Tick go on meanwhile.
//
// The state machine is a small key-value map whose writes are proposals
// "key=value". It keeps its applied index and the membership as of that
// index (computed with raftgroup.ApplyConfChange, as a real one would);
// applying is not durable by itself (like pebble without sync), a persist
// makes it durable only with probability SyncApplyRate, and installing a
// snapshot always does. Compaction snapshots the durable state and
// compacts the log at or below it; a leader that needs a snapshot for a
// follower sends the stored one or builds a fresh one, as a real store
// may.
//
// # Fault model
//
//   - Network: each message is dropped with probability DropRate,
//     duplicated with probability DupRate, delayed up to MaxDelayTicks
//     ticks, and delivered in random order among those whose delay has
//     passed. Partitions isolate a node, split the nodes in two, or cut a
//     single direction of a link (asymmetric); a cut link loses what it
//     carries at delivery time. Partitions often target the leader, and a
//     leadership transfer sometimes cuts every link into the old leader
//     (so it learns late that it was deposed). Lost snapshots are reported
//     to the leader as failed, some lost appends as unreachable.
//   - Clients send requests to any replica that believes it leads (a
//     deposed leader that has not noticed included) and sometimes to any
//     replica at all.
//   - Crash: a node loses everything not durable: the pending Ready (its
//     entries and hard state, and its MessagesAfterPersist, which are
//     never sent), unsynced applies, and its reads. Restart runs
//     raftgroup.New on the durable log with Config.Applied set to the
//     state machine's durable applied index and the membership as of it.
//   - Clocks: in some runs each node's clock gains or loses a tick every
//     DriftTicks to 2*DriftTicks ticks (lease runs: well under a tick per
//     election timeout, the drift the lease tolerates).
//   - Quiescence: a quiet follower whose leader has been down or cut off
//     for an election timeout is woken, as the node's failure detector
//     does.
//
// # Checked properties
//
// After every step: at most one leader per term (election safety). Log
// matching: every (index, term) that any replica made durable or sent in a
// MsgApp names the same log prefix everywhere (compared by chain hashes;
// entries lost in a crash before anyone saw them do not count). On every
// Ready: leader completeness (a leader holds every entry committed before
// its term began), and the Ready contract (hard state term never decreases, vote never changes
// within a term, commit never decreases, MustSync set when needed, entries
// contiguous and never rewriting committed ones, committed entries
// contiguous, never handed out twice and present in the log, snapshots
// newer than what was applied and equal to the committed state, votes and
// acknowledgements only after the persist, read states only for requests
// made). On every apply: state machine safety (no two replicas apply
// different entries at an index), the membership history is the same
// everywhere, and after Advance the core's membership equals the state
// machine's. Durable votes are never for two candidates in a term. Reads:
// a confirmed ReadIndex covers everything applied anywhere before the read
// began, and the value served once applied is the committed value there,
// never older than a write to the key acknowledged before the read began.
//
// Every RoundSteps chaos steps every fault heals (links up, no drops or
// duplicates, delays of at most a tick, every node restarted and woken);
// the group must then elect a leader and apply a proposal on every member
// within [LivenessTicks] election timeouts ([LivenessTicksNoPreVote]
// without pre-vote), which is liveness; then chaos resumes. Malformed
// copies of some messages check that Step refuses bad input unchanged.
//
// # Variants and running it
//
// The seed also picks the cluster size, the election timeout, lease reads
// (with some reads through ReadIndexQuorum), pre-vote, CheckQuorum,
// quiescence, message and in-flight limits, and the fault intensities
// ([ConfigForSeed]). `go test ./raftgroup/rafttest` runs 2,000 seeds (200
// with -short); -seeds, -first and -steps run any number; -lease forces
// lease reads; a failure prints the one-line command that replays it, and
// -seed=N -dump -events=K prints the last K events of any run.
//
// # What it must never do
//
// Use a clock, a goroutine, the global random source, or iterate a map
// where order could reach the run: any of these would make a failing seed
// impossible to replay. A Simulator is not safe for concurrent use; Run
// may be called from several goroutines on different Configs.
package rafttest
