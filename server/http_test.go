package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilladb/flotilla/shard"
)

func httpDo(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(b)
}

func TestHTTPAdmin(t *testing.T) {
	nodes := openCluster(t)
	base := "http://" + nodes[1].Server.HTTPAddr()
	if code, body := httpDo(t, "PUT", base+"/api/kv/"+url.PathEscape("a/b c"), "hello"); code != 200 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	// Read it back through another node.
	other := "http://" + nodes[2].Server.HTTPAddr()
	code, body := httpDo(t, "GET", other+"/api/kv/"+url.PathEscape("a/b c"), "")
	var kv KVJSON
	must(t, json.Unmarshal([]byte(body), &kv))
	if code != 200 || kv.Key != "a/b c" || kv.Value != "hello" {
		t.Fatalf("GET = %d %s", code, body)
	}
	httpDo(t, "PUT", base+"/api/kv/k0001", "1")
	httpDo(t, "PUT", base+"/api/kv/k9000", string([]byte{0xff, 0}))
	code, body = httpDo(t, "GET", base+"/api/scan?start=k&limit=1", "")
	var page ScanJSON
	must(t, json.Unmarshal([]byte(body), &page))
	if code != 200 || len(page.Pairs) != 1 || page.Pairs[0].Key != "k0001" || page.Next == nil {
		t.Fatalf("scan page 1 = %d %s", code, body)
	}
	_, body = httpDo(t, "GET", base+"/api/scan?start="+url.QueryEscape(*page.Next)+"&end=l", "")
	page = ScanJSON{}
	must(t, json.Unmarshal([]byte(body), &page))
	if len(page.Pairs) != 1 || string(page.Pairs[0].ValueBase64) != "\xff\x00" || page.Next != nil {
		t.Fatalf("scan page 2 = %s", body)
	}
	if code, body := httpDo(t, "DELETE", base+"/api/kv/k0001", ""); code != 200 || !strings.Contains(body, `"deleted": true`) {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if code, _ := httpDo(t, "GET", base+"/api/kv/k0001", ""); code != 404 {
		t.Fatalf("GET deleted = %d", code)
	}
	if code, _ := httpDo(t, "GET", base+"/api/scan?limit=x", ""); code != 400 {
		t.Fatalf("bad limit = %d", code)
	}
	testHTTPStatus(t, base)
}

func testHTTPStatus(t *testing.T, base string) {
	code, body := httpDo(t, "GET", base+"/api/status", "")
	var st StatusJSON
	must(t, json.Unmarshal([]byte(body), &st))
	if code != 200 || st.Node != 2 || len(st.Shards) != 4 || !st.Ready || st.Metrics.Replicas != 4 {
		t.Fatalf("status = %d %s", code, body)
	}
	for _, sh := range st.Shards {
		if sh.Leader == 0 || sh.Applied == 0 || len(sh.Replicas) != 3 {
			t.Fatalf("shard %+v", sh)
		}
	}
	if !strings.Contains(st.StoreOptions, "node=2") {
		t.Fatalf("store options %q", st.StoreOptions)
	}
	code, body = httpDo(t, "GET", base+"/api/shards", "")
	var shards []ShardJSON
	must(t, json.Unmarshal([]byte(body), &shards))
	if code != 200 || len(shards) != 4 || shards[1].Start != "k2500" || shards[3].End != "" {
		t.Fatalf("shards = %d %s", code, body)
	}
}

func TestHTTPMetricsHealthPprof(t *testing.T) {
	n := openSingle(t, nil)
	base := "http://" + n.Server.HTTPAddr()
	c := newClient(t, n, "")
	must(t, c.Set(t.Context(), "k0001", "v", 0).Err())
	code, body := httpDo(t, "GET", base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`flotilla_proposals_total{node_id="1"}`, `flotilla_replicas{node_id="1"} 4`,
		`flotilla_resp_commands_total{node_id="1"}`, "go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "shard=") || strings.Contains(body, "shard_id") {
		t.Fatal("/metrics has a per-shard label")
	}
	if code, _ := httpDo(t, "GET", base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	waitReady(t, n)
	if code, body := httpDo(t, "GET", base+"/readyz", ""); code != 200 {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", base+"/debug/pprof/", ""); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof = %d", code)
	}
}

// TestReadyzNotReady: a node of a 3-node cluster whose peers never start
// has no leader for its shards, so it is alive but not ready.
func TestReadyzNotReady(t *testing.T) {
	n := openLonelyMember(t)
	base := "http://" + n.Server.HTTPAddr()
	if code, _ := httpDo(t, "GET", base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, body := httpDo(t, "GET", base+"/readyz", ""); code != 503 || !strings.Contains(body, "no known leader") {
		t.Fatalf("/readyz = %d %s", code, body)
	}
}

// TestReadyzIgnoresPreparedReplica: a replica prepared for a move that
// then failed (its node was paused when the move gave up, and ran the
// prepare when it continued) is uninitialized and never hears from a
// leader; it must not keep the node unready forever (regression: found
// by TestNetnsPlacementLinearizable, seed 1796586437752723787).
func TestReadyzIgnoresPreparedReplica(t *testing.T) {
	n := openSingle(t, nil)
	waitReady(t, n)
	must(t, n.Store.PrepareReplica(99))
	if ok, why := n.Server.Ready(); !ok {
		t.Fatalf("Ready() = false (%s) with an uninitialized replica prepared", why)
	}
	base := "http://" + n.Server.HTTPAddr()
	if code, body := httpDo(t, "GET", base+"/readyz", ""); code != 200 {
		t.Fatalf("/readyz = %d %s", code, body)
	}
}

func TestNodeOptionsValidate(t *testing.T) {
	o := NodeOptions{Store: shardOptions(t)}
	o.Server.Store = &shard.Store{}
	if err := o.EnsureDefaults().Validate(); err == nil {
		t.Fatal("Server.Store accepted")
	}
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}
