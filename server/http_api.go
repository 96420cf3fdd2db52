package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// ShardJSON is one shard in /api/status and /api/shards.
type ShardJSON struct {
	ID       uint64          `json:"id"`
	Start    string          `json:"start"`
	End      string          `json:"end"` // empty: to the end of the key space
	Replicas []raftpb.NodeID `json:"replicas"`
	Epoch    uint64          `json:"epoch"`
	Leader   raftpb.NodeID   `json:"leader"` // 0: unknown
	Applied  uint64          `json:"applied"`
	Durable  uint64          `json:"durable"`
	Quiesced bool            `json:"quiesced"`
}

// StatusJSON is the body of GET /api/status.
type StatusJSON struct {
	Node          raftpb.NodeID `json:"node"`
	Version       string        `json:"version"`
	ClientAddr    string        `json:"client_addr"`
	HTTPAddr      string        `json:"http_addr"`
	StoreOptions  string        `json:"store_options"`
	ServerOptions string        `json:"server_options"`
	Ready         bool          `json:"ready"`
	NotReady      string        `json:"not_ready,omitempty"`
	Metrics       shard.Metrics `json:"metrics"`
	Shards        []ShardJSON   `json:"shards"`
}

// KVJSON is one key and its value. Value is the value as text when it is
// valid UTF-8; otherwise ValueBase64 holds it.
type KVJSON struct {
	Key         string `json:"key"`
	Value       string `json:"value,omitempty"`
	ValueBase64 []byte `json:"value_base64,omitempty"`
}

func kvJSON(k, v []byte) KVJSON {
	if utf8.Valid(v) {
		return KVJSON{Key: string(k), Value: string(v)}
	}
	return KVJSON{Key: string(k), ValueBase64: v}
}

func (s *Server) shardsJSON() []ShardJSON {
	shards := s.store.Shards()
	out := make([]ShardJSON, 0, len(shards))
	for _, sh := range shards {
		out = append(out, ShardJSON{ID: uint64(sh.Desc.ID), Start: string(sh.Desc.Start), End: string(sh.Desc.End),
			Replicas: sh.Desc.Replicas, Epoch: sh.Desc.Epoch, Leader: sh.Leader,
			Applied: uint64(sh.Applied), Durable: uint64(sh.Durable), Quiesced: sh.Quiesced})
	}
	return out
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	so := s.store.Options()
	ready, reason := s.Ready()
	writeJSON(w, http.StatusOK, StatusJSON{
		Node: s.store.NodeID(), Version: s.opts.Version,
		ClientAddr: s.ClientAddr(), HTTPAddr: s.HTTPAddr(),
		StoreOptions: so.String(), ServerOptions: s.opts.String(),
		Ready: ready, NotReady: reason,
		Metrics: s.store.Metrics(), Shards: s.shardsJSON(),
	})
}

func (s *Server) handleShards(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.shardsJSON())
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	v, found, err := s.store.Get(r.Context(), key)
	switch {
	case err != nil:
		writeHTTPError(w, httpStatus(err), err)
	case !found:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found", "key": string(key)})
	default:
		writeJSON(w, http.StatusOK, kvJSON(key, v))
	}
}

// handlePut sets the key to the request body (raw bytes).
func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	if len(key) > s.opts.MaxKeyBytes {
		writeHTTPError(w, http.StatusBadRequest, fmt.Errorf("key too large: %d bytes (max %d)", len(key), s.opts.MaxKeyBytes))
		return
	}
	val, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxValueBytes)+1))
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, err)
		return
	}
	if len(val) > s.opts.MaxValueBytes {
		writeHTTPError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("value larger than %d bytes", s.opts.MaxValueBytes))
		return
	}
	if err := s.store.Put(r.Context(), key, val); err != nil {
		writeHTTPError(w, httpStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	res, err := s.store.Exec(r.Context(), shard.Command{Ops: []shard.Op{{Kind: shard.OpDelete, Key: key}}, ReturnPrev: true})
	if err != nil {
		writeHTTPError(w, httpStatus(err), err)
		return
	}
	existed := len(res.PrevExists) == 1 && res.PrevExists[0]
	writeJSON(w, http.StatusOK, map[string]any{"deleted": existed})
}

// ScanJSON is the body of GET /api/scan. Next, when set, is the start of
// the following page.
type ScanJSON struct {
	Pairs []KVJSON `json:"pairs"`
	Next  *string  `json:"next,omitempty"`
}

// handleScan is GET /api/scan?start=&end=&limit= (limit default 100, at
// most MaxScanCount).
func (s *Server) handleScan(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeHTTPError(w, http.StatusBadRequest, errors.New("limit must be a positive integer"))
			return
		}
		limit = min(n, s.opts.MaxScanCount)
	}
	kvs, err := s.store.Scan(r.Context(), []byte(q.Get("start")), []byte(q.Get("end")), limit)
	if err != nil {
		writeHTTPError(w, httpStatus(err), err)
		return
	}
	out := ScanJSON{Pairs: make([]KVJSON, 0, len(kvs))}
	for _, kv := range kvs {
		out.Pairs = append(out.Pairs, kvJSON(kv.Key, kv.Value))
	}
	if len(kvs) == limit {
		next := string(kvs[len(kvs)-1].Key) + "\x00"
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
}
