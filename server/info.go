package server

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// serverCounters are the server's own counters, next to the store's.
type serverCounters struct {
	commands, errors atomic.Uint64
	// protocolErrors counts connections closed for broken RESP framing
	// or a length over a limit (each also counts in errors).
	protocolErrors   atomic.Uint64
	connectionsTotal atomic.Uint64
	connections      atomic.Int64
	httpRequests     atomic.Uint64
	started          atomic.Int64 // unix nanoseconds; set by New
}

// redisCompatVersion is the Redis version whose command behaviour the
// RESP layer follows; clients read it from INFO to pick features.
const redisCompatVersion = "7.2.0"

// infoSections are the INFO sections in their default order.
func (s *Server) infoSections() []string { return []string{"server", "clients", "cluster", "stats"} }

// cmdInfo answers INFO [section ...] with the server, clients, cluster
// and stats sections ("all", "everything" and "default" give them all).
func (s *Server) cmdInfo(cs *connState, w replier, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	for _, sec := range s.infoSections() {
		if !all && !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		s.writeInfoSection(&b, sec)
	}
	w.WriteBulkString(b.String())
}

func (s *Server) writeInfoSection(b *strings.Builder, sec string) {
	line := func(k string, v any) { fmt.Fprintf(b, "%s:%v\r\n", k, v) }
	switch sec {
	case "server":
		b.WriteString("# Server\r\n")
		line("redis_version", redisCompatVersion)
		line("flotilla_version", s.opts.Version)
		line("redis_mode", "standalone")
		line("os", runtime.GOOS+" "+runtime.GOARCH)
		line("go_version", runtime.Version())
		line("process_id", os.Getpid())
		line("tcp_port", portOf(s.ClientAddr()))
		line("uptime_in_seconds", int64(time.Since(time.Unix(0, s.m.started.Load())).Seconds()))
	case "clients":
		b.WriteString("# Clients\r\n")
		line("connected_clients", s.m.connections.Load())
	case "cluster":
		s.writeInfoCluster(b, line)
	case "stats":
		s.writeInfoStats(b, line)
	}
}

func (s *Server) writeInfoCluster(b *strings.Builder, line func(string, any)) {
	b.WriteString("# Cluster\r\n")
	// cluster_enabled:0 keeps clients from switching to Redis Cluster
	// mode: Flotilla routes keys itself.
	line("cluster_enabled", 0)
	id := s.store.NodeID()
	line("flotilla_node_id", id)
	shards := s.store.Shards()
	led, noLeader := 0, 0
	for _, sh := range shards {
		switch sh.Leader {
		case id:
			led++
		case raftpb.None:
			noLeader++
		}
	}
	line("flotilla_shards", len(shards))
	line("flotilla_shards_led", led)
	line("flotilla_shards_without_leader", noLeader)
	line("flotilla_peers", len(s.store.Options().Peers))
}

func (s *Server) writeInfoStats(b *strings.Builder, line func(string, any)) {
	m := s.store.Metrics()
	b.WriteString("# Stats\r\n")
	line("total_connections_received", s.m.connectionsTotal.Load())
	line("total_commands_processed", s.m.commands.Load())
	line("total_error_replies", s.m.errors.Load())
	line("flotilla_proposals", m.Proposals)
	line("flotilla_reads", m.Reads)
	line("flotilla_forwarded", m.Forwarded)
	line("flotilla_rounds", m.Rounds)
	line("flotilla_groups_per_round", fmt.Sprintf("%.2f", m.GroupsPerRound))
	line("flotilla_wal_batches", m.WALBatches)
	line("flotilla_fsyncs", m.Fsyncs)
	line("flotilla_entries_per_fsync", fmt.Sprintf("%.2f", m.EntriesPerSync))
	line("flotilla_applied", m.Applied)
	line("flotilla_messages_sent", m.MessagesSent)
	line("flotilla_messages_received", m.MessagesReceived)
	line("flotilla_messages_dropped", m.MessagesDropped)
	line("flotilla_snapshots_sent", m.SnapshotsSent)
	line("flotilla_snapshots_installed", m.SnapshotsInstalled)
	line("flotilla_replicas", m.Replicas)
	line("flotilla_replicas_quiesced", m.QuiescedReplicas)
	line("flotilla_ready_queue_depth", m.ReadyQueueDepth)
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}
