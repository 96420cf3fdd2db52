package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flotilladb/flotilla/placement"
	"github.com/flotilladb/flotilla/transport"
)

// layerCollector exports the transport's and the placement layer's
// counters (flotilla_transport_*, flotilla_placement_*), read once per
// scrape; each family is present only when the node has that layer.
type layerCollector struct {
	s      *Server
	labels prometheus.Labels
}

type layerDef[T any] struct {
	name, help string
	kind       prometheus.ValueType
	value      func(m *T) float64
}

func transportDefs() []layerDef[transport.Metrics] {
	f := func(v uint64) float64 { return float64(v) }
	return []layerDef[transport.Metrics]{
		{"frames_sent_total", "Batch frames sent.", counter, func(m *transport.Metrics) float64 { return f(m.FramesSent) }},
		{"frames_received_total", "Frames received.", counter, func(m *transport.Metrics) float64 { return f(m.FramesReceived) }},
		{"heartbeat_frames_sent_total", "Frames of coalesced heartbeats only, sent by the tick (at most peers x ticks).", counter, func(m *transport.Metrics) float64 { return f(m.HeartbeatFramesSent) }},
		{"read_heartbeat_frames_sent_total", "Frames of coalesced heartbeats only, sent early because a read waits on their round trip.", counter, func(m *transport.Metrics) float64 { return f(m.ReadHeartbeatFramesSent) }},
		{"messages_sent_total", "Raft messages sent (heartbeats excluded).", counter, func(m *transport.Metrics) float64 { return f(m.MessagesSent) }},
		{"heartbeats_sent_total", "Coalesced heartbeats sent.", counter, func(m *transport.Metrics) float64 { return f(m.HeartbeatsSent) }},
		{"messages_dropped_total", "Messages dropped (full queue, oversized, invalid).", counter, func(m *transport.Metrics) float64 { return f(m.MessagesDropped) }},
		{"bytes_sent_total", "Frame bytes sent.", counter, func(m *transport.Metrics) float64 { return f(m.BytesSent) }},
		{"bytes_received_total", "Frame bytes received.", counter, func(m *transport.Metrics) float64 { return f(m.BytesReceived) }},
		{"frames_rejected_total", "Incoming frames refused as bad input.", counter, func(m *transport.Metrics) float64 { return f(m.FramesRejected) }},
		{"dials_total", "Connections dialled.", counter, func(m *transport.Metrics) float64 { return f(m.Dials) }},
		{"dial_failures_total", "Failed dials and handshakes.", counter, func(m *transport.Metrics) float64 { return f(m.DialFailures) }},
		{"snapshots_sent_total", "Snapshot streams acknowledged as installed.", counter, func(m *transport.Metrics) float64 { return f(m.SnapshotsSent) }},
		{"snapshot_failures_total", "Snapshot sends that gave up.", counter, func(m *transport.Metrics) float64 { return f(m.SnapshotFailures) }},
	}
}

func placementDefs() []layerDef[placement.Metrics] {
	f := func(v uint64) float64 { return float64(v) }
	return []layerDef[placement.Metrics]{
		{"driver_passes_total", "Placement driver passes run here (as meta leader).", counter, func(m *placement.Metrics) float64 { return f(m.DriverPasses) }},
		{"moves_started_total", "Moves, splits and leader transfers started here.", counter, func(m *placement.Metrics) float64 { return f(m.MovesStarted) }},
		{"moves_done_total", "Moves finished.", counter, func(m *placement.Metrics) float64 { return f(m.MovesDone) }},
		{"moves_failed_total", "Moves that gave up (re-planned later).", counter, func(m *placement.Metrics) float64 { return f(m.MovesFailed) }},
		{"moves_in_flight", "Moves running here now.", gauge, func(m *placement.Metrics) float64 { return float64(m.MovesInFlight) }},
		{"meta_refreshes_total", "Reloads of the meta shard cache.", counter, func(m *placement.Metrics) float64 { return f(m.MetaRefreshes) }},
		{"meta_version", "Version of the meta shard the cache holds.", gauge, func(m *placement.Metrics) float64 { return float64(m.MetaVersion) }},
	}
}

func newLayerCollector(s *Server) *layerCollector {
	return &layerCollector{s: s, labels: prometheus.Labels{"node_id": strconv.FormatUint(uint64(s.store.NodeID()), 10)}}
}

func (c *layerCollector) desc(family, name, help string) *prometheus.Desc {
	return prometheus.NewDesc("flotilla_"+family+"_"+name, help, nil, c.labels)
}

// Describe implements prometheus.Collector (an unchecked collector: the
// families depend on the node's layers).
func (c *layerCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *layerCollector) Collect(ch chan<- prometheus.Metric) {
	if m, ok := c.s.store.TransportMetrics(); ok {
		for _, d := range transportDefs() {
			ch <- prometheus.MustNewConstMetric(c.desc("transport", d.name, d.help), d.kind, d.value(&m))
		}
	}
	if p := c.s.opts.Placement; p != nil {
		m := p.Metrics()
		for _, d := range placementDefs() {
			ch <- prometheus.MustNewConstMetric(c.desc("placement", d.name, d.help), d.kind, d.value(&m))
		}
	}
}
