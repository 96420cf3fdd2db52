// Command bench is Flotilla's benchmark harness. It starts what it
// measures inside its own process, drives a workload for a fixed time,
// and prints one JSON line per result (and, with -out, writes
// results.jsonl and a Markdown table, results.md).
//
//	go run ./bench -scenario write -groups 1024 -clients 256 -size 16 -duration 15s
//	go run ./bench -scenario all -out /tmp/bench
//
// # What is measured
//
// The cluster is three shard.Stores in this process, each with its own
// data directory (under -dir, or a fresh temporary directory), its own
// WAL with fsync on, and the real TCP transport between them on
// 127.0.0.1. The key space (8 hexadecimal digits, 2^32 keys) is pre-split
// into -groups shards at evenly spaced keys; the harness waits until every
// shard answers a linearizable read at its leader before any clock starts.
//
// Scenarios:
//
//   - write: -clients goroutines each Put random keys with -size-byte
//     values, one request outstanding per client.
//   - read: the same clients do linearizable Gets of keys written before
//     the clock starts.
//   - idle: no traffic. Once every replica is quiesced, the process's CPU
//     time and resident memory are measured over -duration and divided by
//     the number of replicas.
//   - ceiling: the disk's group-commit ceiling, without Raft or the store:
//     -clients goroutines append 16-byte records to a shared buffer, and
//     one writer goroutine writes each buffered batch to a plain file and
//     fdatasyncs it before waking the batch's writers. The file is written
//     with zeros and synced beforehand and then reused as a ring, so a
//     sync flushes data blocks only (no size change), which makes this the
//     highest figure the disk gives and the strictest yardstick. The three
//     replicas of the store share the same disk, so the store is compared
//     with ceiling/3.
//   - ceiling3: the ceiling with three such logs (files) on the same disk,
//     each with a third of the writers, as three replicas' WALs would be:
//     it shows whether the disk loses throughput when three logs sync.
//   - all: ceiling, ceiling3, idle at 10,000 shards, write at 64 and 1,024
//     shards with 16 B and 1 KiB values, and read at 1,024 shards, in one
//     run, so that ratios between them come from one machine at one time.
//     The file system is flushed between steps, outside the windows.
//
// The stores do not forward requests to the leader yet, so a client sends
// each request to the node it believes leads the key's shard, follows a
// *shard.NotLeaderError's hint, and caches the leader per shard. A
// request's latency includes those retries.
//
// Every workload runs a warm-up (a tenth of -duration, at most 3 s) before
// the measured window; only requests that finish inside the window count.
// cpu_cores is the process's user+system CPU time (getrusage) over the
// window divided by its wall time, for everything in the process: the
// three stores and the clients. fsyncs_per_sec and entries_per_fsync sum
// the three stores' WAL counters (Store.Metrics) over the window. rss_mb
// is the resident set (VmRSS) at the end of the window.
//
// cpu_us_per_op is that CPU time per request, and load_avg the machine's
// one-minute load average at the end of the window: on a shared machine
// other processes take cores the store would use, while the ceiling
// needs almost none, so read ratios with the load in mind.
//
// Every store option is the default except -workers (round workers per
// store). -cpuprofile and -memprofile write a CPU profile of each measured
// window and a heap profile at its end; with several steps in a run the
// step's label goes into each file name.
package main
