package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
	// CPUusPerOp is CPU time per request (all replicas and clients).
	CPUusPerOp float64 `json:"cpu_us_per_op,omitempty"`
	// LoadAvg is the machine's one-minute load average at the end of the
	// window: other processes compete for the same cores.
	LoadAvg float64 `json:"load_avg"`

	// MessagesPerSec is the Raft messages the three stores sent per second.
	MessagesPerSec float64 `json:"messages_per_sec,omitempty"`
	// ForwardedPerSec is the requests the stores forwarded to a leader on
	// another node per second (the clients aim at leaders; a few land on
	// a follower after an election).
	ForwardedPerSec float64 `json:"forwarded_per_sec,omitempty"`
	// Replicas and Quiesced count replicas at the end of the window.
	Replicas int `json:"replicas,omitempty"`
	Quiesced int `json:"quiesced,omitempty"`
	// RSSPerReplicaBytes is the growth of the resident set from before
	// the stores opened to the end of the window, per replica (idle).
	RSSPerReplicaBytes float64 `json:"rss_per_replica_bytes,omitempty"`
	// CeilingRatio is OpsPerSec over a third of the disk's group-commit
	// ceiling measured earlier in the same run (write results only).
	CeilingRatio float64 `json:"ceiling_ratio,omitempty"`
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

// writeMarkdown writes the results as one table.
func writeMarkdown(w io.Writer, cmd string, results []Result) error {
	fmt.Fprintf(w, "Command: `%s`\n\n", cmd)
	fmt.Fprintln(w, "| system | workload | groups | clients | size B | ops/s | vs ceiling/3 | p50 µs | p99 µs | p99.9 µs | CPU cores | CPU µs/op | load avg | fsyncs/s | entries/fsync | RSS MB | RSS B/replica |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range results {
		ratio, perReplica := "", ""
		if r.CeilingRatio > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*r.CeilingRatio)
		}
		if r.RSSPerReplicaBytes != 0 {
			perReplica = fmt.Sprintf("%.0f", r.RSSPerReplicaBytes)
		}
		_, err := fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %.0f | %s | %.0f | %.0f | %.0f | %.3f | %.0f | %.1f | %.0f | %.1f | %.0f | %s |\n",
			r.System, r.Workload, r.Groups, r.Clients, r.Size, r.OpsPerSec, ratio, r.P50us, r.P99us, r.P999us,
			r.CPUCores, r.CPUusPerOp, r.LoadAvg, r.FsyncsPerSec, r.EntriesPerFsync, r.RSSMB, perReplica)
		if err != nil {
			return err
		}
	}
	return nil
}
