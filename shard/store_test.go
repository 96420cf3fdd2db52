package shard

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string, splits ...string) *Store {
	t.Helper()
	opts := Options{Dir: dir, TickInterval: 5 * time.Millisecond}
	for _, k := range splits {
		opts.SplitKeys = append(opts.SplitKeys, []byte(k))
	}
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitLeaders waits until every local replica leads its shard (a single
// node elects itself after an election timeout).
func waitLeaders(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range s.replicas(nil) {
		for raftNode(r.leader.Load()) != s.opts.NodeID {
			if time.Now().After(deadline) {
				t.Fatalf("shard %d has no leader", r.id)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestSingleNodeReadWrite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir(), "m")
	defer s.Close()
	waitLeaders(t, s)
	for i := 0; i < 50; i++ {
		k := []byte(fmt.Sprintf("%c-key-%02d", 'a'+i%26, i))
		if err := s.Put(ctx, k, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	v, ok, err := s.Get(ctx, []byte("a-key-00"))
	if err != nil || !ok || string(v) != "0" {
		t.Fatalf("Get = %q %v %v", v, ok, err)
	}
	kvs, err := s.Scan(ctx, nil, nil, 100)
	if err != nil || len(kvs) != 50 {
		t.Fatalf("Scan: %d pairs, %v", len(kvs), err)
	}
	for i := 1; i < len(kvs); i++ {
		if string(kvs[i-1].Key) >= string(kvs[i].Key) {
			t.Fatalf("scan out of order at %d: %q >= %q", i, kvs[i-1].Key, kvs[i].Key)
		}
	}
	if err := s.CompareAndSwap(ctx, []byte("a-key-00"), []byte("wrong"), []byte("x")); !errors.Is(err, ErrCondFailed) {
		t.Fatalf("CAS with a wrong value: %v", err)
	}
	if err := s.CompareAndSwap(ctx, []byte("a-key-00"), []byte("0"), []byte("x")); err != nil {
		t.Fatalf("CAS: %v", err)
	}
	if n, err := s.Incr(ctx, []byte("counter"), 5); err != nil || n != 5 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	cross := Command{Ops: []Op{{Kind: OpPut, Key: []byte("a"), Value: []byte("1")}, {Kind: OpPut, Key: []byte("z"), Value: []byte("1")}}}
	if _, err := s.Exec(ctx, cross); !errors.Is(err, ErrCrossShard) {
		t.Fatalf("cross-shard batch: %v", err)
	}
}

func TestSingleNodeRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir, "k")
	waitLeaders(t, s)
	for i := 0; i < 100; i++ {
		if err := s.Put(ctx, []byte(fmt.Sprintf("key%03d", i)), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, "k")
	defer s.Close()
	waitLeaders(t, s)
	for i := 0; i < 100; i++ {
		v, ok, err := s.Get(ctx, []byte(fmt.Sprintf("key%03d", i)))
		if err != nil || !ok || string(v) != fmt.Sprint(i) {
			t.Fatalf("after restart key%03d = %q %v %v", i, v, ok, err)
		}
	}
}
