package main

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/flotilladb/flotilla/server"
	"github.com/flotilladb/flotilla/shard"
)

func TestParseFaultRules(t *testing.T) {
	rules, err := parseFaultRules("# comment\n\nfail-sync wal\ndelay-sync 50ms 300ms\ndelay-write 0s 1ms kv\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []faultRule{{kind: "fail-sync", scope: "wal"}, {kind: "delay-sync", min: 50 * time.Millisecond, max: 300 * time.Millisecond},
		{kind: "delay-write", max: time.Millisecond, scope: "kv"}}
	if len(rules) != len(want) {
		t.Fatalf("rules %v", rules)
	}
	for i := range want {
		if rules[i] != want[i] {
			t.Errorf("rule %d: %v, want %v", i, rules[i], want[i])
		}
	}
	for _, bad := range []string{"fail-write", "fail-sync now", "delay-sync 50ms", "delay-sync 300ms 50ms", "delay-sync -1s 1s", "delay-write x y"} {
		if _, err := parseFaultRules(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestFaultKnob: the knob's injector fails and delays what the control
// file says, re-reads it when it changes, and a failed sync of a WAL file
// zeroes the bytes written to it since its last good sync.
func TestFaultKnob(t *testing.T) {
	dir := t.TempDir()
	control := filepath.Join(dir, "faults")
	t.Setenv(testFaultsEnv, control)
	o := server.NodeOptions{Store: shard.Options{Dir: filepath.Join(dir, "data")}}
	stop := make(chan struct{})
	defer close(stop)
	if err := applyTestKnobs(&o, slog.New(slog.DiscardHandler), stop); err != nil {
		t.Fatal(err)
	}
	fs := o.Store.WAL.FS
	if fs == nil || o.Store.KV.FS != fs {
		t.Fatal("the WAL and pebble were not given the fault-injecting file system")
	}
	if err := os.MkdirAll(filepath.Join(dir, "data", "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "data", "wal", "00000001.wal")
	f, err := fs.Create(seg, pvfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("durable!"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("sync without faults: %v", err)
	}
	if err := os.WriteFile(control, []byte("fail-sync wal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Wait until the knob has read the file: a probe's sync fails.
	probe, err := fs.Create(filepath.Join(dir, "data", "wal", "probe"), pvfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	for deadline := time.Now().Add(5 * time.Second); probe.Sync() == nil; time.Sleep(faultPoll) {
		if time.Now().After(deadline) {
			t.Fatal("the knob did not apply the control file in 5s")
		}
	}
	if _, err := f.WriteAt([]byte("lost"), 8); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, errInjectedSync) {
		t.Fatalf("sync after fail-sync: %v", err)
	}
	got, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("durable!"), 0, 0, 0, 0); !bytes.Equal(got, want) {
		t.Fatalf("after the failed sync the file holds %q, want %q", got, want)
	}
	// Other files are out of the rule's scope.
	g, err := fs.Create(filepath.Join(dir, "data", "other"), pvfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Sync(); err != nil {
		t.Fatalf("sync outside the WAL: %v", err)
	}
}

func TestClockRateKnob(t *testing.T) {
	t.Setenv(testClockRateEnv, "0.5")
	var o server.NodeOptions
	if err := applyTestKnobs(&o, slog.New(slog.DiscardHandler), nil); err != nil {
		t.Fatal(err)
	}
	if o.Store.TickInterval != 2*shard.DefaultTickInterval {
		t.Fatalf("tick %v at rate 0.5", o.Store.TickInterval)
	}
	t.Setenv(testClockRateEnv, "0")
	if err := applyTestKnobs(&o, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Fatal("rate 0 accepted")
	}
}
