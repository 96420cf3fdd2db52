package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/flotilladb/flotilla/shard"
)

// registry builds the server's own Prometheus registry (never the
// process-wide default one, so several servers in one process, as
// `shardnode local` runs, do not collide): the store's counters, the
// server's, and the Go runtime and process collectors.
func (s *Server) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStoreCollector(s))
	reg.MustRegister(newLayerCollector(s))
	reg.MustRegister(collectors.NewGoCollector())
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// sample is what one scrape reads: the store's metrics snapshot and the
// server's counters.
type sample struct {
	m *shard.Metrics
	s *serverCounters
}

// metricDef is one exported metric and how to read it from a sample.
type metricDef struct {
	name, help string
	kind       prometheus.ValueType
	value      func(x sample) float64
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// metricDefs lists the exported metrics (all prefixed flotilla_).
func metricDefs() []metricDef {
	return []metricDef{
		{"rounds_total", "Rounds that had work.", counter, func(x sample) float64 { return float64(x.m.Rounds) }},
		{"groups_per_round", "Mean groups with a Ready per round.", gauge, func(x sample) float64 { return x.m.GroupsPerRound }},
		{"wal_batches_total", "WAL batches written.", counter, func(x sample) float64 { return float64(x.m.WALBatches) }},
		{"wal_fsyncs_total", "fdatasync calls by the WAL.", counter, func(x sample) float64 { return float64(x.m.Fsyncs) }},
		{"wal_entries_per_fsync", "Mean log entries made durable per fsync.", gauge, func(x sample) float64 { return x.m.EntriesPerSync }},
		{"apply_batches_total", "State machine batches committed.", counter, func(x sample) float64 { return float64(x.m.ApplyBatches) }},
		{"applied_entries_total", "Log entries applied.", counter, func(x sample) float64 { return float64(x.m.Applied) }},
		{"proposals_total", "Writes proposed at this node.", counter, func(x sample) float64 { return float64(x.m.Proposals) }},
		{"reads_total", "Reads served at this node.", counter, func(x sample) float64 { return float64(x.m.Reads) }},
		{"forwarded_total", "Requests forwarded to the leader's node.", counter, func(x sample) float64 { return float64(x.m.Forwarded) }},
		{"messages_sent_total", "Raft messages sent.", counter, func(x sample) float64 { return float64(x.m.MessagesSent) }},
		{"messages_received_total", "Raft messages received.", counter, func(x sample) float64 { return float64(x.m.MessagesReceived) }},
		{"messages_dropped_total", "Raft messages dropped (full inbox, unknown shard).", counter, func(x sample) float64 { return float64(x.m.MessagesDropped) }},
		{"snapshots_sent_total", "Snapshots sent.", counter, func(x sample) float64 { return float64(x.m.SnapshotsSent) }},
		{"snapshots_installed_total", "Snapshots installed.", counter, func(x sample) float64 { return float64(x.m.SnapshotsInstalled) }},
		{"sync_points_total", "State machine sync points.", counter, func(x sample) float64 { return float64(x.m.SyncPoints) }},
		{"log_truncations_total", "Shard log truncations.", counter, func(x sample) float64 { return float64(x.m.Truncations) }},
		{"ticks_total", "Ticker rounds.", counter, func(x sample) float64 { return float64(x.m.Ticks) }},
		{"ready_queue_depth", "Replicas waiting for a round.", gauge, func(x sample) float64 { return float64(x.m.ReadyQueueDepth) }},
		{"replicas", "Replicas hosted.", gauge, func(x sample) float64 { return float64(x.m.Replicas) }},
		{"replicas_quiesced", "Replicas idle and not ticking.", gauge, func(x sample) float64 { return float64(x.m.QuiescedReplicas) }},
		{"resp_commands_total", "RESP commands received.", counter, func(x sample) float64 { return float64(x.s.commands.Load()) }},
		{"resp_errors_total", "RESP error replies.", counter, func(x sample) float64 { return float64(x.s.errors.Load()) }},
		{"resp_protocol_errors_total", "RESP connections closed for broken framing or a length over a limit.", counter, func(x sample) float64 { return float64(x.s.protocolErrors.Load()) }},
		{"resp_connections", "Open RESP connections.", gauge, func(x sample) float64 { return float64(x.s.connections.Load()) }},
		{"resp_connections_total", "RESP connections accepted.", counter, func(x sample) float64 { return float64(x.s.connectionsTotal.Load()) }},
		{"http_requests_total", "HTTP requests received.", counter, func(x sample) float64 { return float64(x.s.httpRequests.Load()) }},
	}
}

// storeCollector reads Store.Metrics() once per scrape. Every metric
// carries the node ID as a constant label and none is labelled by shard:
// a node hosts thousands of shards, and per-shard series would swamp
// Prometheus.
type storeCollector struct {
	s     *Server
	defs  []metricDef
	descs []*prometheus.Desc
}

func newStoreCollector(s *Server) *storeCollector {
	labels := prometheus.Labels{"node_id": strconv.FormatUint(uint64(s.store.NodeID()), 10)}
	c := &storeCollector{s: s, defs: metricDefs()}
	for _, d := range c.defs {
		c.descs = append(c.descs, prometheus.NewDesc("flotilla_"+d.name, d.help, nil, labels))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.s.store.Metrics()
	x := sample{m: &m, s: &c.s.m}
	for i, d := range c.defs {
		ch <- prometheus.MustNewConstMetric(c.descs[i], d.kind, d.value(x))
	}
}
