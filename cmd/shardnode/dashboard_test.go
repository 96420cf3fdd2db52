package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flotilladb/flotilla/server"
)

// updateDocsPicture makes TestDashboardChromium also write its screenshot
// to docs/dashboard.png, the picture docs/operations.md shows.
var updateDocsPicture = flag.Bool("update-docs-picture", false, "write the dashboard screenshot to docs/dashboard.png")

// chromiumPath finds Debian's chromium. Without it the test is skipped,
// unless CI is set: CI installs it (.ci/run), so there its absence is a
// failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal("CI is set but chromium is not installed (.ci/run installs Debian's chromium package)")
	}
	t.Skip("chromium is not installed (Debian: apt-get install chromium); CI runs this test")
	return ""
}

// chromium runs headless chromium once on url with the given extra
// arguments and returns its standard output. Virtual time lets the
// page's timers run 3 s ahead; chromium pauses virtual time while a
// fetch is in flight, so the page's polls of the node complete.
func chromium(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{
		"--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
		// NB: chromium's sandbox refuses to run as root, as CI containers do;
		// the page is our own, served from loopback.
		"--no-sandbox",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,900", "--virtual-time-budget=3000",
	}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// domUntil loads url until check accepts the rendered DOM, up to a
// deadline, and returns that DOM.
func domUntil(t *testing.T, bin, url string, check func(dom string) error) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		dom := chromium(t, bin, url, "--dump-dom")
		err := check(dom)
		if err == nil {
			return dom
		}
		if time.Now().After(deadline) {
			t.Fatalf("dashboard %s: %v\nDOM:\n%s", url, err, dom)
		}
	}
}

var (
	nodeRow  = regexp.MustCompile(`<tr id="node-(\d+)"[^>]*>(.*?)</tr>`)
	shardRow = regexp.MustCompile(`<tr id="shard-(\d+)"`)
)

// cellInt is the number in the row's <td class="num NAME"> cell.
func cellInt(row, name string) (int, error) {
	m := regexp.MustCompile(`<td class="num ` + name + `">(\d+)</td>`).FindStringSubmatch(row)
	if m == nil {
		return 0, fmt.Errorf("no %s cell in %s", name, row)
	}
	return strconv.Atoi(m[1])
}

// checkNodes accepts a DOM that shows 3 live nodes, each with a replica
// of all of the cluster's shards, and one leader per shard in all.
func checkNodes(dom string, shards int) error {
	if !strings.Contains(dom, `data-loaded="yes"`) {
		return fmt.Errorf("the page never loaded the cluster view")
	}
	rows := nodeRow.FindAllStringSubmatch(dom, -1)
	if len(rows) != 3 {
		return fmt.Errorf("%d node rows, want 3", len(rows))
	}
	leaders := 0
	for i, r := range rows {
		if r[1] != strconv.Itoa(i+1) || !strings.Contains(r[0], `data-state="live"`) {
			return fmt.Errorf("node row %d: %s", i+1, r[0])
		}
		n, err := cellInt(r[2], "replicas")
		if err != nil || n != shards {
			return fmt.Errorf("node %d shows %d replicas (%v), want %d", i+1, n, err, shards)
		}
		l, err := cellInt(r[2], "leaders")
		if err != nil {
			return err
		}
		leaders += l
	}
	if leaders != shards {
		return fmt.Errorf("leader counts add up to %d, want %d", leaders, shards)
	}
	if got := len(shardRow.FindAllString(dom, -1)); got != shards {
		return fmt.Errorf("%d shard rows, want %d", got, shards)
	}
	return nil
}

// checkGraphs accepts a DOM whose throughput graph has a series and
// whose current throughput is positive (the test writes all along).
func checkGraphs(dom string) error {
	m := regexp.MustCompile(`id="ops-graph"[^>]*data-points="(\d+)"`).FindStringSubmatch(dom)
	if m == nil || m[1] == "0" || m[1] == "1" {
		return fmt.Errorf("the throughput graph has no series: %v", m)
	}
	ops := regexp.MustCompile(`<b id="ops-now">(\d+)</b>`).FindStringSubmatch(dom)
	if ops == nil || ops[1] == "0" {
		return fmt.Errorf("throughput shown: %v, want > 0", ops)
	}
	if !strings.Contains(dom, "(3 of 3 nodes)") {
		return fmt.Errorf("the rates are not summed over the 3 nodes")
	}
	return nil
}

// TestDashboardChromium starts `shardnode local` as a real process, loads
// the dashboard URL it prints in headless chromium, and checks the page
// the JavaScript drew: 3 nodes with their replica and leader counts, the
// shards, the key filter, and a live throughput graph. It saves a
// screenshot in its temporary directory (and, with
// -update-docs-picture, as docs/dashboard.png).
func TestDashboardChromium(t *testing.T) {
	bin := chromiumPath(t)
	const shards = 4
	p := startProc(t, shardnodeBin, "local", "--data-dir", t.TempDir(), "--client-port", "0", "--http-port", "0",
		"--shards", strconv.Itoa(shards), "--log-level", "warn")
	lines := p.waitLine(t, "ready:", 60*time.Second)
	resp, https := addrs(t, lines)
	url := ""
	for _, l := range lines {
		if u, ok := strings.CutPrefix(l, "dashboard: "); ok {
			url = u
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("no dashboard URL in %q", lines)
	}
	stop := watchUnderLoad(t, resp[0], https)
	defer stop()

	dom := domUntil(t, bin, url, func(dom string) error {
		if err := checkNodes(dom, shards); err != nil {
			return err
		}
		return checkGraphs(dom)
	})
	t.Logf("dashboard shows 3 nodes and %d shards (%d bytes of DOM)", shards, len(dom))

	key := "key:000500000000"
	want := shardHolding(t, url, key)
	domUntil(t, bin, url+"?key="+key, func(dom string) error {
		rows := shardRow.FindAllStringSubmatch(dom, -1)
		if len(rows) != 1 || rows[0][1] != strconv.FormatUint(uint64(want), 10) {
			return fmt.Errorf("key filter %q shows shards %v, want only shard %d", key, rows, want)
		}
		return nil
	})

	png := filepath.Join(t.TempDir(), "dashboard.png")
	chromium(t, bin, url, "--screenshot="+png)
	b, err := os.ReadFile(png)
	if err != nil || len(b) < 10_000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("screenshot %s: %d bytes, %v", png, len(b), err)
	}
	t.Logf("screenshot: %s", png)
	if *updateDocsPicture {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "dashboard.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	p.interrupt(t)
}

// shardHolding asks the node's /api/cluster which shard holds key.
func shardHolding(t *testing.T, dashboard, key string) uint64 {
	t.Helper()
	r, err := http.Get(dashboard + "api/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var cs server.ClusterStatus
	if err := json.NewDecoder(r.Body).Decode(&cs); err != nil {
		t.Fatal(err)
	}
	for _, s := range cs.Shards {
		if key >= string(s.Start) && (len(s.End) == 0 || key < string(s.End)) {
			return uint64(s.ID)
		}
	}
	t.Fatalf("no shard holds %q: %+v", key, cs.Shards)
	return 0
}

// watchUnderLoad writes through the node at respAddr and polls every
// node's /api/rates once a second, as an open dashboard does, until the
// returned stop is called; it returns once every node has a series and
// the writes show in the cluster's rate. NB: the browser runs on virtual
// time, so its own polls come too close together to add points; this
// real-time watcher is what gives the graph its series.
func watchUnderLoad(t *testing.T, respAddr string, httpAddrs []string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c := redis.NewClient(&redis.Options{Addr: respAddr, Protocol: 2})
		defer c.Close()
		for i := 0; ctx.Err() == nil; i++ {
			_ = c.Set(ctx, fmt.Sprintf("key:%012d", i*7_777_777), "v", 0).Err()
		}
	}()
	ready := make(chan struct{})
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		signalled := false
		for {
			if pollRates(httpAddrs) && !signalled {
				close(ready)
				signalled = true
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		stop()
		t.Fatal("no write rate on the nodes' /api/rates after 60s of writes")
	}
	return stop
}

// pollRates polls every node's /api/rates once and reports whether each
// has a series of 3 points or more and the latest points show writes.
func pollRates(httpAddrs []string) bool {
	c := http.Client{Timeout: 5 * time.Second}
	all, writes := true, 0.0
	for _, a := range httpAddrs {
		var r server.RatesJSON
		resp, err := c.Get("http://" + a + "/api/rates")
		if err != nil {
			all = false
			continue
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		_ = resp.Body.Close()
		if n := len(r.Points); n >= 3 {
			writes += r.Points[n-1].Writes
		} else {
			all = false
		}
	}
	return all && writes > 0
}
