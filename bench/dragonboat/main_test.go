package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmoke runs each scenario for a second on a few groups and checks
// that it makes progress and prints a well-formed line; then it feeds
// the lines, with one made-up Flotilla line, to the ratios table.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three NodeHosts per scenario")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "results.jsonl")
	for _, sc := range []string{"write", "read", "stale", "idle"} {
		var buf bytes.Buffer
		args := []string{"-scenario", sc, "-groups", "4", "-clients", "8", "-duration", "1s",
			"-dir", dir, "-out", out, "-idle-settle", "200ms"}
		if err := run(args, &buf); err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		var r Result
		if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v in %q", sc, err, buf.String())
		}
		if r.System != "dragonboat" || r.Workload != sc || r.Replicas != 12 {
			t.Errorf("%s: got %+v", sc, r)
		}
		if sc != "idle" && (r.Ops == 0 || r.Errors != 0) {
			t.Errorf("%s: %d ops, %d errors", sc, r.Ops, r.Errors)
		}
	}
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeJSONLine(f, Result{System: "flotilla", Workload: "write", Groups: 4, Clients: 8, Size: 16, OpsPerSec: 1000, P99us: 1000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var table bytes.Buffer
	if err := run([]string{"-ratios", out}, &table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "| write | 4 | 8 | 16 | 1/1 |") {
		t.Errorf("ratios table lacks the write row:\n%s", table.String())
	}
}
