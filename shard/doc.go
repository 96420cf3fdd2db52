// Package shard is a Flotilla node's store: it hosts the node's replicas
// (thousands of Raft groups), runs them on one scheduler, persists them in
// one write-ahead log, applies them to one state machine, and serves reads
// and writes. [Open] is the embedding API.
//
// # The round
//
// There is no goroutine or timer per group. Per node there are:
//
//   - one ticker, which every TickInterval ticks only the awake (not
//     quiesced) replicas and flushes the transport's coalesced heartbeats;
//   - a ready queue (scheduler.go): a deduplicated FIFO of replicas with
//     input (messages, proposals, reads, ticks, snapshot reports);
//   - Options.Workers workers, each taking up to MaxRoundGroups replicas
//     at a time. For each batch, a round (round.go):
//     1. steps every queued input into each group and collects its Ready;
//     2. puts every group's snapshot mark, entries and hard state into ONE
//     WAL batch; sends the Messages (a leader's appends) at once; hands
//     the batch to the WAL (one write and one fdatasync, shared further
//     with concurrent rounds by the WAL's group commit); applies what was
//     durable before this round (on a leader, everything committed) and
//     answers its clients;
//     3. without waiting for the sync, the worker goes on to its next
//     batch; once the round's batch is durable the worker finishes the
//     round (worker.go), in the order its rounds were submitted:
//     4. only then sends MessagesAfterPersist (votes, append acks);
//     5. applies the rest of the committed entries of every group in ONE
//     state machine batch, together with each shard's applied index,
//     without sync;
//     6. answers the proposals applied and the reads whose index is
//     applied, then Advances every group.
//
// A worker has at most MaxSyncingRounds rounds waiting for their sync
// (default 1); at the bound it waits for
// the oldest, and while one is syncing it starts
// another only if at least as many groups are queued as its last round
// took (the gate, worker.go), so that rounds keep batching when work comes
// slower than the disk syncs. The groups of a round stay in it (running)
// until it is finished, so a group is never stepped again before its last
// Ready is Advanced, and each round finds everything its groups wrote
// earlier durable.
//
// The workers, the WAL's writer and syncer and the transport all need Ps
// while syncs block theirs: the program should run with more Ps than
// cores (RecommendedGOMAXPROCS).
//
// A replica is in at most one round at a time (replica.sched), so a group
// is single-threaded as raftgroup requires, without locks around it.
//
// # Durability
//
//   - A vote or append is acknowledged only after the WAL batch holding
//     it is durable; a client is answered only after its entry is applied,
//     which happens after it is durable on a quorum.
//   - Applies are not synced. Every SyncInterval the syncer takes a state
//     machine sync point; the applied index of each shard read before the
//     sync point is durable after it, and only then may the shard's log be
//     truncated up to it (keeping what followers need, unless a snapshot is
//     cheaper: Options.MaxLogEntries).
//   - On restart the WAL is read, then each shard replays from its durable
//     applied index: committed entries at or below it are skipped.
//   - A failed WAL write or fsync, or a failed state machine commit, stops
//     the store (fail-stop); Err reports why.
//
// # Snapshots
//
// A leader that must send a snapshot takes a consistent image of the
// shard from the state machine at its applied index; the image streams on
// the transport's snapshot path from a goroutine of its own. The receiver
// asks the replica's round whether the snapshot is wanted (which freezes
// the replica), installs the image atomically (StateMachine.Install), then
// hands the MsgSnap to Raft.
//
// # Errors
//
// Requests fail with typed errors that say what happened: *NotLeaderError
// (with the leader, when known), ErrNoQuorum, ErrTimeout (a write may
// still apply), ErrCrossShard, *CondFailedError, ErrClosed, ErrFailed.
//
// # Concurrency
//
// A Store is safe for concurrent use. Client calls only queue work and
// wait on a channel; the workers own the groups.
package shard
