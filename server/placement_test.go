package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Without placement (a single node or a static cluster) every admin
// operation answers 501 with a reason; a GET is not an admin operation.
func TestAdminWithoutPlacement(t *testing.T) {
	n := openSingle(t, nil)
	base := "http://" + n.Server.HTTPAddr()
	for _, path := range []string{"/api/admin/rebalance?dry_run=true", "/api/admin/drain?node=1",
		"/api/admin/move?shard=1&from=1&to=2", "/api/admin/split?shard=1", "/api/admin/transfer-leader?shard=1&to=2"} {
		resp, err := http.Post(base+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error string }
		if resp.StatusCode != http.StatusNotImplemented || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "gossip") {
			t.Errorf("POST %s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, err := http.Get(base + "/api/admin/rebalance")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of an admin operation: %d", resp.StatusCode)
	}
}

// Malformed parameters are refused with 400 before anything runs.
func TestAdminQueryParsing(t *testing.T) {
	cases := []struct {
		url, param string
		fails      bool
		kind       string
	}{
		{"/x?shard=12", "shard", false, "uint"},
		{"/x?shard=-1", "shard", true, "uint"},
		{"/x?shard=", "shard", true, "uint"},
		{"/x?shard=99999999999999999999999", "shard", true, "uint"},
		{"/x?node=0", "node", true, "node"},
		{"/x?node=3", "node", false, "node"},
		{"/x?node=three", "node", true, "node"},
		{"/x?dry_run=maybe", "dry_run", true, "bool"},
		{"/x?dry_run=true", "dry_run", false, "bool"},
		{"/x", "dry_run", false, "bool"},
	}
	for _, c := range cases {
		q := query{httptest.NewRequest(http.MethodPost, c.url, nil)}
		var err error
		switch c.kind {
		case "uint":
			_, err = q.uint(c.param)
		case "node":
			_, err = q.node(c.param)
		case "bool":
			_, err = q.boolean(c.param)
		}
		if (err != nil) != c.fails {
			t.Errorf("%s: err %v, want failure %v", c.url, err, c.fails)
		}
	}
}
