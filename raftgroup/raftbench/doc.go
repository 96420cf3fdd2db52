// Package raftbench drives a 3-replica Raft group wired in memory (no
// disk, no network, no encoding) for throughput benchmarks of the Raft
// core. Its driver is generic over the library, so the same code drives
// raftgroup (here) and go.etcd.io/raft/v3 (in the bench/raftcore modules,
// which keep etcd out of the main module's dependencies).
//
// One benchmark op is one proposal: the driver proposes a batch at the
// leader, then repeats "every replica with a Ready: persist to its
// MemoryStorage, queue its messages, count what it applies, Advance; then
// deliver the queued messages" until the leader has applied the batch.
// Storages are compacted as the group goes, so memory stays bounded
// whatever b.N is. See bench/raftcore's doc for how the two libraries are
// made comparable.
//
// It is a benchmark helper: it imports testing and is used only by
// benchmarks and their smoke tests.
package raftbench
