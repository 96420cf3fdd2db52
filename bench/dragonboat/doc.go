// Command dragonboat-bench runs Flotilla's benchmark workloads against
// dragonboat (github.com/lni/dragonboat/v4 at the pseudo-version
// v4.0.0-20240618143154-6a1623140f27; `@latest` does not resolve on the
// module proxy) and prints the same JSON lines as the main harness
// (bench/harness/result.go), with system "dragonboat". It is a module of its own
// so that the main module never depends on dragonboat. It does not import
// the main module either (bench/harness), although it could: Go's minimal
// version selection would then build dragonboat with the main module's
// dependency versions instead of its own. Tried on 2026-12-06 (a replace
// of the main module and `go mod tidy`): 25 of its 40-odd dependencies
// moved, among them hashicorp/memberlist v0.3.1 -> v0.7.0, klauspost/compress
// v1.11.13 -> v1.20.3 and golang.org/x/sys v0.12.0 -> v0.48.0, so the system
// measured would no longer be the dragonboat its authors released. Hence
// the key space, the value and key streams, the closed-loop clients, the
// process clocks and the result fields are repeated here (keys.go,
// clients.go, sysstat.go, result.go) and must stay in step with
// bench/harness/keys.go, kv.go, clients.go, sysstat.go and result.go (the
// `duplicates` tool lists these pairs; they are deliberate).
//
//	cd bench/dragonboat
//	go run . -scenario write -groups 1024 -clients 256 -size 16 -duration 15s
//	go run . -scenario read -groups 64 -clients 64     # SyncRead (ReadIndex)
//	go run . -scenario stale -groups 64 -clients 64    # StaleRead
//	go run . -scenario idle -groups 1000 [-quiesce]
//	./run.sh                                           # both systems, alternating, with ratios
//	go run . -ratios results.jsonl ...                 # medians and ratios of both systems' lines
//
// # What runs
//
// Three NodeHosts in this process, each with its own data directory and
// dragonboat's default LogDB (sharded pebble, fsync on), talking over its
// built-in TCP transport on 127.0.0.1. -groups shards split the key space
// (a uint32 printed as 8 hex digits) at the same points as the main
// harness; shard i is dragonboat shard ID i+1, with replica j+1 on host j.
// The state machine is an in-memory map per replica (IStateMachine).
//
// Clients are closed loops with one request outstanding, sending each
// request to the host that leads the key's shard (learned with
// GetLeaderID, learned again after a retryable error): writes are
// SyncPropose of a put with a no-op session, reads SyncRead or StaleRead
// of keys written before the clock starts. The clock starts once every
// shard has had a leader and has answered a linearizable read. Warm-up,
// window, percentiles and CPU (getrusage of the whole process) are
// measured as in the main harness.
//
// fsyncs_per_sec counts the fsync and fdatasync system calls of the
// process with `perf stat` on the syscall tracepoints over the window
// (pebble syncs the raw file descriptor, below any file-system hook);
// without perf it is 0. entries_per_fsync is the entries applied by all
// replicas over those syncs. setup_seconds is the time from starting the
// NodeHosts to the first request.
//
// # Settings
//
// Every dragonboat setting is its default except: RTTMillisecond 100
// (the tick; Flotilla's is 100 ms), ElectionRTT 10 and HeartbeatRTT 1
// (Flotilla's election and heartbeat in ticks; they have no default),
// Expert.Engine.ExecShards 4 (default 16; 2 cores here) and PreVote on.
// Flags change them (-rtt-ms, -election-rtt, -heartbeat-rtt,
// -exec-shards, -pre-vote, -check-quorum, -quiesce); each result's
// "config" field lists what differed from the defaults in its run.
//
// Starting thousands of replicas takes dragonboat minutes and about a
// megabyte or more each, so starting stops (and idle reports how far it
// got) once the resident set passes -max-rss-gib, the machine's available
// memory falls below -min-avail-gib, or -start-timeout passes.
package main
