package shard

// RecommendedGOMAXPROCS returns the GOMAXPROCS a process running stores
// should use on a machine where the Go runtime's default is procs (one P
// per usable core): procs + SyscallProcs. A library must not change the
// process's runtime settings, so the store never applies it itself; the
// programs that run stores (cmd/shardnode, the benchmark harness) do,
// unless the GOMAXPROCS environment variable is set.
//
// Why: a goroutine blocked in a system call keeps its P until the
// runtime's monitor takes it back, which it does only after at least one
// of its ticks (20 us when busy, up to 10 ms after a quiet spell) and not
// while another P is idle. A store spends much of its time in blocking
// calls: the WAL's fdatasync (0.2-1 ms each on the measured virtual disk,
// with one writer and one syncer per WAL), its writes, the state
// machine's sync points and the transport's socket writes. With one P per
// core, on 2 cores, both Ps were often held by goroutines in fdatasync
// while workers, clients and transport readers waited to run: three
// stores in one process used about one core of two at 1,024 shards x 256
// clients, and two more Ps gave 1.3-1.9x the writes per second, with
// about three times the WAL entries per fsync (measured side by side in
// docs/benchmarks.md, "Store"). The price is that when nothing
// blocks, the OS time-slices up to SyscallProcs more running threads than
// there are cores.
func RecommendedGOMAXPROCS(procs int) int {
	return max(procs, 1) + SyscallProcs
}

// SyscallProcs is how many Ps above one per core RecommendedGOMAXPROCS
// adds, for the goroutines that may sit in blocking system calls at the
// same time (a WAL's writer and syncer, a state machine sync point).
const SyscallProcs = 2
