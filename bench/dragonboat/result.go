package main

import (
	"encoding/json"
	"io"
	"slices"
	"time"
)

// Result is one line of the report. Its JSON form is the one the main
// module's harness (bench/harness/result.go) writes, field for field, so that the
// two systems' lines can be read by the same tools; System is
// "dragonboat" here. Fields that this harness cannot measure for
// dragonboat stay zero (and are omitted where the main harness omits
// them).
type Result struct {
	System          string  `json:"system"`
	Workload        string  `json:"workload"`
	Groups          int     `json:"groups"`
	Clients         int     `json:"clients"`
	Size            int     `json:"size"`
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
	CPUusPerOp      float64 `json:"cpu_us_per_op,omitempty"`
	LoadAvg         float64 `json:"load_avg"`

	MessagesPerSec     float64 `json:"messages_per_sec,omitempty"`
	ForwardedPerSec    float64 `json:"forwarded_per_sec,omitempty"`
	Replicas           int     `json:"replicas,omitempty"`
	Quiesced           int     `json:"quiesced,omitempty"`
	RSSPerReplicaBytes float64 `json:"rss_per_replica_bytes,omitempty"`
	CeilingRatio       float64 `json:"ceiling_ratio,omitempty"`

	// Config names the dragonboat settings of the run that differ from
	// its defaults (not in the main harness's lines).
	Config string `json:"config,omitempty"`
	// SetupSeconds is the time from starting the NodeHosts until every
	// shard had a leader that served a linearizable read.
	SetupSeconds float64 `json:"setup_seconds,omitempty"`
	// Note says why a result is incomplete, for example an idle run that
	// stopped starting replicas at the memory limit.
	Note string `json:"note,omitempty"`
}

func writeJSONLine(w io.Writer, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// latencies collects request latencies; each client has its own.
type latencies []time.Duration

// percentiles sorts l and returns its p50, p99 and p99.9 in microseconds,
// picked the same way as the main harness.
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
