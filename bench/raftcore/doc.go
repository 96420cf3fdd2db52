// Package raftcore compares the throughput of Flotilla's Raft core
// (raftgroup) with go.etcd.io/raft/v3's RawNode, driven by the same code
// in the same process.
//
// It is a module of its own so that etcd raft never enters the main
// module's dependencies. The driver and the raftgroup side live in the main
// module (raftgroup/raftbench), shared with raftgroup's own benchmark and
// with the etcd36 module (etcd raft v3.6.0, for reference); the etcd side
// and the benchmarks are in the tests. Run
//
//	cd bench/raftcore && go test -run '^$' -bench . -benchmem
//
// or run.sh for the paired, repeated runs docs/benchmarks.md reports.
//
// # The driver
//
// Three replicas of one group are wired in memory: no disk, no network, no
// encoding. A Ready's entries and hard state go into the library's own
// MemoryStorage; its messages are handed to the destination's Step as they
// are. One benchmark op is one proposal. Proposals are made at the leader
// in batches of B (128-byte payloads, one shared buffer), each library
// through its best call for a batch: raftgroup's Propose B times (it
// batches at Ready, one MsgApp per follower for all of them); for etcd one
// MsgProp carrying B entries stepped into the RawNode, as CockroachDB
// does. "etcd-each" calls RawNode.Propose B times instead, which makes
// etcd raft send a MsgApp per entry. After each batch the driver repeats
// "every replica with a Ready: persist, queue its messages, count the
// entries it applies, Advance; then deliver the queued messages" until the
// leader has applied the whole batch. Undelivered messages carry over to
// the next batch. Every 4096 entries the storages are compacted to the
// lowest applied index, so memory stays bounded whatever b.N is. No ticks
// are issued, so no heartbeats are sent.
//
// Both libraries get the same limits (raftgroup's defaults): 1 MiB per
// message, 256 messages and 32 MiB in flight per follower, 64 MiB
// uncommitted and 64 MiB committed per Ready, pre-vote and check-quorum on.
// etcd raft runs its default synchronous Ready/Advance path
// (AsyncStorageWrites off), which matches raftgroup's contract, with a
// logger that discards.
package raftcore
