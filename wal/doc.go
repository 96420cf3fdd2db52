// Package wal is the write-ahead log of a Flotilla node: one append-only
// log shared by every Raft group on the node, so that one fdatasync makes
// the appends and hard states of many groups durable at once.
//
// # Role
//
// The shard store hands the WAL one [Batch] per scheduler round, holding
// the entries and hard states of every group in the round, and waits for
// it to be durable before acknowledging votes and appends. It reads a
// group's log back through [WAL.Entries], [WAL.Term], [WAL.FirstIndex],
// [WAL.LastIndex], [WAL.HardState] and [WAL.GroupState], which are what a
// read-only Raft Storage needs.
//
// # Records
//
// A segment is a sequence of records. Each record is framed as:
//
//	| offset | size | field                                               |
//	|--------|------|-----------------------------------------------------|
//	| 0      | 4    | CRC32C (Castagnoli) of bytes 4..9+length, XOR mask  |
//	| 4      | 4    | length of the payload, little-endian (<= 1 GiB)     |
//	| 8      | 1    | type (low 7 bits); bit 7 = payload compressed (s2)  |
//	| 9      | len  | payload                                             |
//
// mask = uint32(segment number + 1) * 0x9E3779B1, so a record is valid only
// in the segment it was written for (a reused or misread file cannot pass
// stale records off as current ones).
//
// Payloads (integers are uvarints unless sized):
//
//	| type | name       | payload                                                        |
//	|------|------------|----------------------------------------------------------------|
//	| 1    | entries    | group, first index, count, then per entry:                     |
//	|      |            |   term, entry type (1 byte), data length, data                 |
//	| 2    | hard state | group, term, vote, commit                                      |
//	| 3    | compact    | group, index, term (the compaction point and its term)         |
//	| 4    | remove     | group                                                          |
//	| 5    | commit     | batch sequence number (8 bytes LE): ends one write             |
//	| 6    | segment    | format version (1 byte), segment number (8 LE), first seq (8 LE)|
//
// Only entries payloads above Options.CompressThreshold (default 512 B)
// are compressed, with s2's block format, and only when that makes them
// smaller; the record CRC covers the compressed bytes.
//
// An entries record whose first index is at or below the group's last
// index replaces the tail from there (suffix truncation). A compact record
// beyond the last index empties the log, which then continues after it
// (snapshot installation). A remove record forgets the group.
//
// Every write of the writer is one batch: a segment header if the segment
// is new, the records of every batch taken, then one commit record with
// the next sequence number. Recovery applies a batch only when its commit
// record is intact, so every [Batch] is atomic across a crash.
//
// # Segments
//
// Segments are files named %08d.wal, preallocated to Options.SegmentBytes
// (default 64 MiB) by zero-filling a spare file in the background; the
// writer renames it into place when it rotates. A write never spans two
// segments. Segments are deleted oldest first once no live group's history
// starts in them; when the segments exceed twice the live data plus one
// segment, the groups that pin old ones are rewritten forward in bounded
// chunks (see gc.go), which keeps the disk at about twice the live data
// plus a few segments. Before deleting, the collector writes and syncs a
// floor record (one small batch) naming the oldest segment the log keeps,
// so recovery can tell segments it deleted from segments lost or removed
// by hand: a directory whose oldest segment is newer than the last floor
// (or than segment 1, before any collection) fails Open.
//
// # Invariants
//
//   - A batch's records become visible to reads only after the write and
//     fdatasync holding them returned, and before its submitter is woken.
//   - Per group, the index's spans cover exactly FirstIndex..LastIndex, in
//     order (index.go).
//   - Segments are deleted in number order, after the rewrites that free
//     them are durable, and the directory is synced after deleting.
//   - Recovery yields exactly the batches whose commit records were synced,
//     plus possibly the batch whose write was in flight, whole or not at
//     all; a damaged record that a torn write cannot explain fails Open
//     with a *CorruptionError naming the file and offset.
//
// # Concurrency
//
// A [WAL] is safe for concurrent use. Submitters encode their batches in
// their own goroutines ([Batch.Append] and friends, including compression)
// and [WAL.Submit] only pushes a pointer onto a lock-free stack with one
// compare-and-swap (queue.go). Three goroutines own the log (writer.go):
// the writer takes what is queued, validates it, lays it out in one buffer
// and writes it with one WriteAt; the syncer makes every write made so far
// durable with one fdatasync; the completer publishes each synced write to
// the index under its write lock and wakes the write's submitters by
// closing one channel. The writer writes the next batches while the disk
// syncs, once as many are queued as the last write carried or the sync has
// ended; when nothing is in flight and nobody waits behind a write, the
// writer syncs and completes it itself. Readers take the index's read
// lock only to locate records (and copy cached ones); preads happen
// outside it. A [Batch] is not safe for concurrent use. Close waits for
// the three goroutines and the segment preparer.
//
// # Faults
//
// A failed write or sync is handed to every batch of that write and of the
// queue, and the WAL fail-stops: every later submit returns ErrFailed
// wrapping the cause (and ErrDiskFull for ENOSPC). It never retries an
// fsync, since after a failed fsync the kernel may have dropped the dirty
// pages and a retry could report success for lost data. Reads keep
// working. Tests inject faults through the file system given in Options.FS
// (internal/vfs.FaultFS).
//
// # What it must never do
//
// Interpret Raft semantics (it checks only the shape of each group's log:
// contiguous indexes, nothing at or below the compaction point), retry a
// failed fsync, acknowledge a batch before its bytes are synced, or import
// shard or transport.
package wal
