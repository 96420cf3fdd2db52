package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Result is one line of the report. The fields up to RSSMB are present in
// every result; the rest only where they mean something.
type Result struct {
	System          string  `json:"system"`   // "flotilla", or "disk" for the ceiling
	Workload        string  `json:"workload"` // the scenario
	Groups          int     `json:"groups"`
	Clients         int     `json:"clients"`
	Size            int     `json:"size"` // value (or record) bytes
	Ops             int64   `json:"ops"`
	Errors          int64   `json:"errors"`
	Seconds         float64 `json:"seconds"`
	OpsPerSec       float64 `json:"ops_per_sec"`
	P50us           float64 `json:"p50_us"`
	P99us           float64 `json:"p99_us"`
	P999us          float64 `json:"p999_us"`
	CPUCores        float64 `json:"cpu_cores"`
	FsyncsPerSec    float64 `json:"fsyncs_per_sec"`
	EntriesPerFsync float64 `json:"entries_per_fsync"`
	RSSMB           float64 `json:"rss_mb"`
	// HeartbeatFramesPerSec is the heartbeat-only frames the three nodes'
	// transports sent per second; HeartbeatFramesPerPairTick divides it by
	// the six directed node pairs and the ticks per second (goal: at most
	// 1, whatever the number of shards).
	HeartbeatFramesPerSec      float64 `json:"heartbeat_frames_per_sec"`
	HeartbeatFramesPerPairTick float64 `json:"heartbeat_frames_per_pair_tick"`
	// ReadHeartbeatFramesPerSec is the heartbeat-only frames sent early
	// for reads waiting on a heartbeat round trip (not by the tick, so not
	// in HeartbeatFramesPerSec); they follow the read load, not the shards.
	ReadHeartbeatFramesPerSec float64 `json:"read_heartbeat_frames_per_sec,omitempty"`
	// CPUusPerOp is CPU time per request (all replicas and clients).
	CPUusPerOp float64 `json:"cpu_us_per_op,omitempty"`
	// AllocsPerOp is the heap objects the process allocated in the
	// window per request (all replicas and clients): unlike CPU time,
	// other processes on the machine do not move it.
	AllocsPerOp float64 `json:"allocs_per_op,omitempty"`
	// allocs is the heap objects allocated in the window.
	allocs uint64
	// LoadAvg is the machine's one-minute load average at the end of the
	// window: other processes compete for the same cores.
	LoadAvg float64 `json:"load_avg"`
	// GOMAXPROCS is the run's (-gomaxprocs).
	GOMAXPROCS int `json:"gomaxprocs,omitempty"`

	// MessagesPerSec is the Raft messages the three stores sent per second.
	MessagesPerSec float64 `json:"messages_per_sec,omitempty"`
	// ForwardedPerSec is the requests the stores forwarded to a leader on
	// another node per second (the clients aim at leaders; a few land on
	// a follower after an election).
	ForwardedPerSec float64 `json:"forwarded_per_sec,omitempty"`
	// RoundsPerSec is the three stores' rounds with work per second,
	// GroupsPerRound the mean groups with a Ready in each, and
	// WALBatchesPerSec the rounds that handed a batch to their WAL.
	RoundsPerSec     float64 `json:"rounds_per_sec,omitempty"`
	GroupsPerRound   float64 `json:"groups_per_round,omitempty"`
	WALBatchesPerSec float64 `json:"wal_batches_per_sec,omitempty"`
	// Replicas and Quiesced count replicas at the end of the window.
	Replicas int `json:"replicas,omitempty"`
	Quiesced int `json:"quiesced,omitempty"`
	// RSSPerReplicaBytes is the growth of the resident set from before
	// the stores opened to the end of the window, per replica (idle).
	RSSPerReplicaBytes float64 `json:"rss_per_replica_bytes,omitempty"`
	// HeapPerReplicaBytes is the growth of the Go heap's live bytes
	// (runtime.MemStats.HeapAlloc right after a collection) over the same
	// span, per replica (idle): steadier than RSS, which also moves with
	// the runtime's and the kernel's page handling. Part of it is
	// allocated per store whatever the shard count (the WALs' tail
	// caches), and allocated is not resident (pages never written are not
	// in RSS).
	HeapPerReplicaBytes float64 `json:"heap_per_replica_bytes,omitempty"`
	// CeilingRatio is OpsPerSec over a third of the disk's group-commit
	// ceiling measured earlier in the same run (write results only).
	CeilingRatio float64 `json:"ceiling_ratio,omitempty"`
	// LatencyUs is the latency at each of latencyQuantiles, in
	// microseconds (the latency plots draw it).
	LatencyUs []float64 `json:"latency_us,omitempty"`

	// Failover (see failover.go): shards whose leader was on the stopped
	// node; the time from stopping it until every shard had a leader on a
	// live node, in milliseconds and in election timeouts; and the first
	// and last failed request, in milliseconds after the stop.
	LeadersLost      int     `json:"leaders_lost,omitempty"`
	FailoverMs       float64 `json:"failover_ms,omitempty"`
	ElectionTimeouts float64 `json:"election_timeouts,omitempty"`
	FirstErrorMs     float64 `json:"first_error_ms,omitempty"`
	LastErrorMs      float64 `json:"last_error_ms,omitempty"`

	// Recovery (see recovery.go): the WAL bytes on disk when the nodes
	// were closed, how long the slowest shard.Open took, and how long
	// until every shard had a leader again, from the start of the opens.
	LogMB          float64 `json:"log_mb,omitempty"`
	OpenSeconds    float64 `json:"open_seconds,omitempty"`
	LeadersSeconds float64 `json:"leaders_seconds,omitempty"`
	// WALOpenSeconds is how long node 1's WAL alone took to open (scan,
	// check and index) just before the store reopened it, and
	// WALRecoveredMB how much it scanned.
	WALOpenSeconds float64 `json:"wal_open_seconds,omitempty"`
	WALRecoveredMB float64 `json:"wal_recovered_mb,omitempty"`

	// Rebalance (see rebalance.go): seconds from the fourth node's join
	// to a balanced cluster, and the clients' writes/s before the join
	// (warm-up included) and between the join and the balance.
	RebalanceSeconds         float64 `json:"rebalance_seconds,omitempty"`
	OpsPerSecBeforeRebalance float64 `json:"ops_per_sec_before_rebalance,omitempty"`
	OpsPerSecDuringRebalance float64 `json:"ops_per_sec_during_rebalance,omitempty"`
	// Note says what the figures need to be read with.
	Note string `json:"note,omitempty"`
}

// latencyQuantiles returns the points of the latency distribution a
// result keeps (LatencyUs).
func latencyQuantiles() []float64 {
	return []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999}
}

func writeJSONLine(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// latencies collects request latencies. Not safe for concurrent use:
// each client has its own, merged at the end.
type latencies []time.Duration

// percentiles sorts l and returns its p50, p99 and p99.9 in microseconds.
func (l latencies) percentiles() (p50, p99, p999 float64) {
	if len(l) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l)
	at := func(q float64) float64 {
		i := min(int(q*float64(len(l))), len(l)-1)
		return float64(l[i]) / float64(time.Microsecond)
	}
	return at(0.50), at(0.99), at(0.999)
}

// quantiles returns l's latency at each of latencyQuantiles in
// microseconds; l must be sorted (percentiles sorts it).
func (l latencies) quantiles() []float64 {
	if len(l) == 0 {
		return nil
	}
	qs := latencyQuantiles()
	out := make([]float64, len(qs))
	for i, q := range qs {
		j := min(int(q*float64(len(l))), len(l)-1)
		out[i] = float64(l[j]) / float64(time.Microsecond)
	}
	return out
}

// writeMarkdown writes the results as one table; scenario-specific
// figures go into the last column.
func writeMarkdown(w io.Writer, cmd string, results []Result) error {
	fmt.Fprintf(w, "Command: `%s`\n\n", cmd)
	fmt.Fprintln(w, "| system | workload | groups | clients | size B | ops/s | errors | p50 µs | p99 µs | p99.9 µs | CPU cores | CPU µs/op | load avg | fsyncs/s | entries/fsync | HB frames/s | HB frames/pair/tick | RSS MB | notes |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range results {
		_, err := fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %.0f | %d | %.0f | %.0f | %.0f | %.3f | %.0f | %.1f | %.0f | %.1f | %.1f | %.2f | %.0f | %s |\n",
			r.System, r.Workload, r.Groups, r.Clients, r.Size, r.OpsPerSec, r.Errors, r.P50us, r.P99us, r.P999us,
			r.CPUCores, r.CPUusPerOp, r.LoadAvg, r.FsyncsPerSec, r.EntriesPerFsync,
			r.HeartbeatFramesPerSec, r.HeartbeatFramesPerPairTick, r.RSSMB, r.details())
		if err != nil {
			return err
		}
	}
	return nil
}

// details is the table's notes column: the figures only some workloads
// have.
func (r Result) details() string {
	var parts []string
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	if r.CeilingRatio > 0 {
		if r.Workload == "wal" {
			add("%.0f%% of ceiling", 100*r.CeilingRatio)
		} else {
			add("%.0f%% of ceiling/3", 100*r.CeilingRatio)
		}
	}
	if r.RSSPerReplicaBytes != 0 {
		add("%d replicas, %.0f B RSS/replica, %.0f B live heap/replica, %.2f µs CPU/s per replica", r.Replicas,
			r.RSSPerReplicaBytes, r.HeapPerReplicaBytes, r.CPUCores*1e6/float64(max(r.Replicas, 1)))
	}
	if r.FailoverMs > 0 {
		add("%d leaders lost; all led again after %.0f ms = %.2f election timeouts", r.LeadersLost, r.FailoverMs, r.ElectionTimeouts)
		if r.LastErrorMs > 0 {
			add("client errors from %.0f to %.0f ms", r.FirstErrorMs, r.LastErrorMs)
		} else {
			add("no client errors")
		}
	}
	if r.LogMB > 0 {
		add("%.0f MB written: store open %.2f s (%.1f s/GiB), all led after %.2f s; WAL alone: %.0f MB scanned in %.2f s",
			r.LogMB, r.OpenSeconds, r.OpenSeconds/(r.LogMB/1024), r.LeadersSeconds, r.WALRecoveredMB, r.WALOpenSeconds)
	}
	if r.ForwardedPerSec > 0 {
		add("%.0f forwarded/s", r.ForwardedPerSec)
	}
	if r.Note != "" {
		parts = append(parts, r.Note)
	}
	return strings.Join(parts, "; ")
}
