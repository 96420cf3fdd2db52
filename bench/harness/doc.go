// Package harness is Flotilla's benchmark harness, run as `go run ./bench`
// and `shardnode bench` (both call Main). It starts what it
// measures inside its own process (or, with -addrs, drives a running
// cluster over RESP), runs a workload for a fixed time, and prints one
// JSON line per result; with -out it also writes results.jsonl, a
// Markdown table (results.md) and SVG plots into a directory.
//
//	go run ./bench -scenario write -groups 1024 -clients 256 -size 16 -duration 15s
//	go run ./bench -scenario write -groups 64,256,1024 -clients 16,256 -out /tmp/bench
//	go run ./bench -scenario all -out /tmp/bench
//
// -groups, -clients, -size and -logmb take comma-separated lists, and a
// scenario runs the cross product of those it uses; -scenario takes a
// list too. On a terminal a progress bar shows each measured window
// (elapsed, operations so far); otherwise a plain line goes to stderr
// every five seconds.
//
// # What is measured
//
// The cluster is three shard.Stores in this process, each with its own
// data directory (under -dir, or a fresh temporary directory), its own
// WAL with fsync on, and the real TCP transport between them on
// 127.0.0.1. The harness builds each node's transport with the options
// the store would use and hands it to the store, so that it can read the
// transport's counters (heartbeat frames); the store's PeerUnreachable
// hook is the only thing left out. The key space (8 hexadecimal digits,
// 2^32 keys) is pre-split into -groups shards at evenly spaced keys; the
// harness waits until every shard answers a linearizable read at its
// leader before any clock starts.
//
// Scenarios:
//
//   - write: -clients goroutines each Put random keys with -size-byte
//     values, one request outstanding per client.
//   - read: the same clients do linearizable Gets of keys written before
//     the clock starts.
//   - mixed: mixed90 (90% reads, 10% writes) and mixed50, over keys
//     written before the clock starts.
//   - scan: each client scans (Store.Scan) up to -scanlimit pairs from a
//     random key, over keys written before; a scan crosses shards in key
//     order.
//   - idle: no traffic. Once every replica is quiesced, the process's CPU
//     time, resident memory and heartbeat frames are measured over
//     -duration; CPU and memory are also given per replica.
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
//     each with a third of the writers, as three replicas' WALs would be.
//   - wal: the WAL alone (wal.WAL, default options): -clients submitters,
//     one group each, one -size-byte entry per commit; each point runs a
//     ceiling step just before it, and the result gives entries per fsync
//     and its throughput as a share of that ceiling.
//   - failover: writes as in write, one attempt per request with a
//     deadline of one election timeout; a quarter into the window the node
//     leading the most shards falls silent (its transport closes), the
//     others are told it is dead (Store.NodeDead, what membership does
//     once it notices: detection time is not included), and its store is
//     closed meanwhile, its Close competing with the elections for CPU. It reports the
//     time until every shard has a leader on a live node, in milliseconds
//     and election timeouts, and the first and last failed request.
//   - recovery: writes -logmb megabytes of keys and values with -size-byte
//     values, closes the three nodes and reopens them; it reports the
//     slowest shard.Open, the time until every shard has a leader, and the
//     WAL's own open (scan and index) timed alone just before.
//   - all: one point of each, in one run, so that ratios between them
//     come from one machine at one time.
//
// The file system is flushed between steps, outside the windows.
//
// Clients send each request to the node that leads the key's shard
// (learned from Store.Shards, then from *shard.NotLeaderError hints), so
// the figures do not include the stores' forwarding hop; forwarded_per_sec
// shows the requests that were forwarded anyway. A request's latency
// includes any retries.
//
// With -addrs the write, read, mixed and scan workloads go through
// go-redis to the given RESP addresses (client i to address i mod n); the
// nodes forward to leaders themselves. fsyncs and entries per fsync come
// from each node's INFO; cpu_cores and rss_mb are the server processes'
// (process_id from INFO, read in /proc) when they run on this machine,
// else 0; heartbeat frames are not exposed over RESP and read 0.
//
// Every workload runs a warm-up (a tenth of -duration, at most 3 s) before
// the measured window; only requests that finish inside the window count.
// cpu_cores is the process's user+system CPU time (getrusage) over the
// window divided by its wall time, for everything in the process: the
// three stores and the clients. fsyncs_per_sec and entries_per_fsync sum
// the three stores' WAL counters (Store.Metrics) over the window.
// heartbeat_frames_per_sec counts the transports' heartbeat-only frames
// (heartbeats also ride in message frames, which are not counted), and
// heartbeat_frames_per_pair_tick divides it by the six directed node
// pairs and the ten ticks per second. rss_mb is the resident set (VmRSS)
// at the end of the window. latency_us holds the latency at fixed
// quantiles (1% to 99.99%), which the latency plots draw.
//
// cpu_us_per_op is that CPU time per request, allocs_per_op the heap
// objects allocated in the window per request, and load_avg the machine's
// one-minute load average at the end of the window: on a shared machine
// other processes take cores the store would use, while the ceiling
// needs almost none, so read ratios with the load in mind.
//
// Every store option is the default except -workers (round workers per
// store) and -syncingrounds (rounds a worker may have waiting for their
// WAL sync). -cpuprofile, -trace and -memprofile write a CPU profile and
// an execution trace of each measured window and a heap profile at its
// end; with several steps in a run the step's label goes into each file
// name.
package harness
