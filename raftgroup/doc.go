// Package raftgroup is the Raft consensus protocol for ONE group, written
// as a deterministic state machine so that thousands of groups on a node
// can share one scheduler, one write-ahead log and one transport.
//
// # Role
//
// A [Group] is one replica. Its inputs are [Group.Tick], [Group.Step],
// [Group.Propose], [Group.ReadIndex], [Group.ProposeConfChange],
// [Group.TransferLeader], [Group.Campaign], [Group.Wake] and the
// Report* calls. Its output is a [Ready] value: hard state and entries to
// persist, a snapshot to install, messages to send (some at once, some only
// after the write is durable), committed entries to apply, confirmed and
// dropped reads. [Group.Advance] tells it the Ready was carried out.
//
// # What it must never do
//
// Touch disk, network or clocks; start goroutines; take locks; use a
// global random source (election jitter comes from Config.Seed); panic on
// any input. An internal/lint test holds the package to an allow-list of
// standard imports. [Storage] is read-only from here: writes leave in
// Ready.
//
// # Concurrency
//
// A Group is not safe for concurrent use. One goroutine at a time drives
// it; the shard scheduler guarantees this by owning each group in a round.
//
// # Protocol features
//
//   - Elections with randomized timeouts in [ElectionTicks,
//     2*ElectionTicks), Pre-Vote (a candidate first asks whether it could
//     win, without raising terms) and CheckQuorum (a leader that has not
//     heard from a quorum for an election timeout steps down; followers
//     that hear from a leader ignore vote requests). Together they keep a
//     replica that was partitioned and rejoins from deposing a healthy
//     leader.
//   - Replication: per follower a probe / replicate / snapshot state; in
//     replicate state MsgApps are pipelined within a window of
//     MaxInflightMsgs messages and MaxInflightBytes bytes, each carrying up
//     to MaxMsgBytes of entries. A rejection carries a hint (the follower's
//     last index whose term is at most the leader's term at the rejected
//     index), so the leader skips a whole term per round trip. New entries
//     are sent once per Ready, so every proposal made between two Readys
//     shares one MsgApp per follower.
//   - Commit counts only entries of the leader's current term (the Raft
//     paper's figure 8). The leader sends entries before its own write is
//     durable (Raft thesis 10.2.1) and counts itself only at Advance.
//   - Reads: ReadIndex requests are confirmed in rounds; one heartbeat
//     round (its number in Message.Context) confirms every request made
//     before it started. A leader serves reads only once it has committed
//     an entry of its term. With Config.LeaseReads (requires CheckQuorum)
//     the leader answers at once from its lease. The lease is sound if no
//     replica's tick runs faster than the leader's by more than the margin
//     CheckQuorum leaves: the leader steps down after ElectionTicks of its
//     own ticks without a quorum, and voters that heard from it refuse to
//     elect another for ElectionTicks of theirs, counted from when the
//     heartbeat reached them. The leader counts its lease from when it
//     sent the heartbeat of the last round a quorum acknowledged (a
//     round's number carries the leader's tick count then), so an answer
//     handled late (a stopped process, a slow queue) extends nothing. With
//     ticks driven by clocks whose rates differ by a bounded drift, reads
//     are safe as long as that drift is well under one tick per election
//     timeout. The lease ends max(2, ElectionTicks/5) ticks before the
//     election timeout (tick phase and drift); it is void after a wake
//     from quiescence and in a new term until a quorum confirms a read
//     round, and for the rest of the term once the leader has sent
//     MsgTimeoutNow. ReadIndexQuorum always confirms by a
//     heartbeat round, so callers can choose per read.
//   - Membership: learners; any change of more than one voter goes through
//     joint consensus (entered by one entry, left automatically by another
//     or explicitly); changes take effect when applied ([ApplyConfChange]
//     is the pure function both the core and a state machine use). A
//     leader that is no longer a voter hands over with MsgTimeoutNow and
//     steps down.
//   - Leadership transfer: the leader catches the target up, then sends
//     MsgTimeoutNow; the target campaigns at once, past pre-vote and
//     leases. Proposals during a transfer get [ErrTransferInProgress]; a
//     transfer that has not finished after an election timeout is dropped.
//   - Snapshots: a follower that needs compacted entries is sent
//     Storage.Snapshot(); installing it resets the log and the membership.
//   - Quiescence (quiesce.go): an idle group stops ticking and sending
//     heartbeats; any input wakes it.
//   - Heartbeats (MsgHeartbeat, MsgHeartbeatResp, MsgQuiesce) use only
//     term, commit and read context, so the transport can coalesce them
//     across groups.
//   - Commit propagation: by default a leader whose commit index moves
//     sends each follower an empty MsgApp carrying it, which the follower
//     acknowledges. With Config.LazyCommit it does not: the commit index
//     rides on the next MsgApp, heartbeat or MsgQuiesce, and a follower
//     applies up to a heartbeat interval later, for half the messages
//     when appends carry an entry or two.
//
// # Durability contract
//
// See [Ready]: Messages may leave at once; MessagesAfterPersist (votes,
// vote requests, append acknowledgements) only after the Ready's hard
// state, entries and snapshot are durable. Committed entries may include
// the same Ready's entries and are applied after they are durable.
//
// # Bad input
//
// Step validates every message (group, destination, sender, contiguous
// entries with sane terms, snapshot metadata) and returns an error wrapping
// [ErrMalformedMessage] for what no correct peer sends; stale terms,
// answers from non-members and out-of-range acknowledgements are ignored.
package raftgroup
