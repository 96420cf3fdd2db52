// Package raftcore compares the throughput of Flotilla's Raft core
// (raftgroup) with go.etcd.io/raft/v3's RawNode, driven the same way in
// the same process.
//
// It lives in its own module so that etcd raft never enters the main
// module's dependencies. Everything is in the tests: run
//
//	cd bench/raftcore && go test -run '^$' -bench . -benchmem
//
// # The driver
//
// Three replicas of one group are wired in memory: no disk, no network, no
// encoding. A Ready's entries and hard state go into the library's own
// MemoryStorage, its messages are handed to the destination's Step by
// value. One benchmark op is one proposal: proposals are made at the
// leader in batches of B (128-byte payloads, one shared buffer); after each
// batch the driver runs rounds of "every replica with a Ready: persist,
// queue messages, count applied entries, Advance; then deliver the queued
// messages" until the leader has applied the whole batch. Undelivered
// messages carry over to the next batch. Every 4096 entries the storages
// are compacted to the lowest applied index, so memory stays bounded
// whatever b.N is. No ticks are issued, so no heartbeats are sent.
//
// Both libraries get the same limits (raftgroup's defaults): 1 MiB per
// message, 256 messages and 32 MiB in flight per follower, 64 MiB
// uncommitted and 64 MiB committed per Ready, pre-vote and check-quorum on.
// etcd raft runs its default synchronous Ready/Advance path
// (AsyncStorageWrites off), which matches raftgroup's contract.
package raftcore
