package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// ForwardPath is the HTTP endpoint where a node serves requests forwarded
// by its peers (shard.Store.HandleCall). The body is the store's encoded
// forwarded request; the answer is its encoded answer.
//
// NB: the TCP transport has no request path yet, so forwarded requests
// travel over the peers' HTTP ports. TODO(transport request path): move
// them onto the Raft transport and drop the PeerHTTP map.
const ForwardPath = "/internal/forward"

// fromHeader names the forwarding node.
const fromHeader = "Flotilla-From"

// maxForwardAnswerBytes bounds a forwarded answer read by HTTPCaller (a
// scan page can be large).
const maxForwardAnswerBytes = 256 << 20

func (s *Server) handleForward(w http.ResponseWriter, r *http.Request) {
	from, err := strconv.ParseUint(r.Header.Get(fromHeader), 10, 64)
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, errors.New("missing or bad "+fromHeader+" header"))
		return
	}
	req, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxForwardBytes)+1))
	if err != nil || len(req) > s.opts.MaxForwardBytes {
		writeHTTPError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("forwarded request unreadable or over %d bytes", s.opts.MaxForwardBytes))
		return
	}
	s.m.forwardedRequests.Add(1)
	ans := s.store.HandleCall(r.Context(), raftpb.NodeID(from), req)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(ans)
}

// HTTPCaller is a shard.Caller that carries forwarded requests to the
// peers' ForwardPath endpoints. It is safe for concurrent use.
type HTTPCaller struct {
	from    raftpb.NodeID
	resolve func(raftpb.NodeID) (string, error)
	client  *http.Client
}

// NewHTTPCaller returns a caller for node from; resolve maps a peer to its
// HTTP address (host:port).
func NewHTTPCaller(from raftpb.NodeID, resolve func(raftpb.NodeID) (string, error)) *HTTPCaller {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
		ResponseHeaderTimeout: time.Minute}
	return &HTTPCaller{from: from, resolve: resolve, client: &http.Client{Transport: tr}}
}

// Call implements shard.Caller.
func (c *HTTPCaller) Call(ctx context.Context, to raftpb.NodeID, req []byte) ([]byte, error) {
	addr, err := c.resolve(to)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+ForwardPath, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("server: forwarding to node %d: %w", to, err)
	}
	hr.Header.Set(fromHeader, strconv.FormatUint(uint64(c.from), 10))
	resp, err := c.client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("server: forwarding to node %d: %w", to, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("server: forwarding to node %d: %w", to, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server: forwarding to node %d: HTTP %s: %s", to, resp.Status, truncate(string(body), 200))
	}
	return body, nil
}

// Close drops the caller's idle connections.
func (c *HTTPCaller) Close() { c.client.CloseIdleConnections() }
