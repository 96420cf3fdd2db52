package server

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// httpHandler routes the HTTP port: the dashboard at /, the JSON admin
// API under /api/, /metrics, /debug/pprof/, /healthz and /readyz.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	index, assets := dashboardHandler()
	mux.Handle("GET /{$}", index)
	mux.Handle("GET /dashboard/", assets)
	mux.HandleFunc("GET /api/cluster", s.handleCluster)
	mux.Handle("GET /api/rates", newRateSampler(s))
	mux.HandleFunc("GET /api/status", s.handleStatus)
	mux.HandleFunc("GET /api/shards", s.handleShards)
	mux.HandleFunc("GET /api/kv/{key...}", s.handleGet)
	mux.HandleFunc("PUT /api/kv/{key...}", s.handlePut)
	mux.HandleFunc("DELETE /api/kv/{key...}", s.handleDelete)
	mux.HandleFunc("GET /api/scan", s.handleScan)
	s.registerAdmin(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.m.httpRequests.Add(1)
		mux.ServeHTTP(w, r)
	})
}

// handleHealthz answers 200 while the process is up.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// handleReadyz answers 200 when the store is open and every local shard
// has a known leader, 503 with the reason otherwise.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ready, reason := s.Ready()
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"ready": ready, "reason": reason})
}

// Ready reports whether the node can serve every key it hosts: the
// store is open and every local shard has a known leader. When not, it
// says why.
func (s *Server) Ready() (bool, string) {
	if err := s.store.Err(); err != nil {
		return false, err.Error()
	}
	if s.closed() {
		return false, "server closing"
	}
	shards := s.store.Shards()
	if len(shards) == 0 && s.opts.Placement == nil {
		return false, "no shards"
	}
	// (Under placement a node may host no shard yet: it serves by
	// forwarding, and the driver gives it replicas.) A replica that is not
	// initialized holds no key and serves nothing: it waits for a snapshot
	// as a move's new learner, or was left empty by a move that failed
	// after preparing this node (nothing removes it then). It does not
	// make the node unready.
	for _, sh := range shards {
		if !sh.Desc.Initialized() {
			continue
		}
		if sh.Leader == raftpb.None {
			return false, "shard " + itoa(int64(sh.Desc.ID)) + " has no known leader"
		}
	}
	return true, ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeHTTPError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]any{"error": err.Error()})
}
