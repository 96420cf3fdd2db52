package shard

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenWithImagePastTheLog: a node that stopped right after installing
// a snapshot (pebble's ingest is durable at once) but before the round
// that records the snapshot in its WAL was synced holds a state machine
// image past its log's end. It must open (Store.logAfterImage), serve the
// image's data, and take writes. Before, it failed to open with "applied
// N beyond commit M" (shard.TestLinearizableSlowDisks found it).
func TestOpenWithImagePastTheLog(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Move the shard's state machine image past the log's end, as an
	// installed snapshot of a later index would.
	kv, err := OpenKV(filepath.Join(dir, "kv"), KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	states, err := kv.Load()
	if err != nil || len(states) != 1 {
		t.Fatalf("states %v, %v; want one shard", states, err)
	}
	st := states[0]
	st.Applied += 100
	ab := kv.NewApplyBatch()
	ab.SetState(st)
	if err := ab.Commit(); err != nil {
		t.Fatal(err)
	}
	ab.Close()
	if err := kv.SyncPoint(); err != nil {
		t.Fatal(err)
	}
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen with the image at %d past the log: %v", st.Applied, err)
	}
	defer s.Close()
	if v, found, err := s.Get(ctx, []byte("k")); err != nil || !found || string(v) != "v1" {
		t.Fatalf("Get = %q, %v, %v; want v1", v, found, err)
	}
	if err := s.Put(ctx, []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, _, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "v2" {
		t.Fatalf("Get after the write = %q, %v; want v2", v, err)
	}
}
