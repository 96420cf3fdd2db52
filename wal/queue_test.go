package wal

import (
	"errors"
	"sync"
	"testing"
)

// TestSubmitQueue pushes from many goroutines while one goroutine takes
// repeatedly: every batch must be taken exactly once, each goroutine's
// batches in the order it pushed them, and after a final group is
// installed every push is refused with its error.
func TestSubmitQueue(t *testing.T) {
	const pushers, perPusher = 8, 2000
	var q submitQueue
	q.cur.Store(newSyncGroup())
	type origin struct{ pusher, seq int }
	batches := make([][]*Batch, pushers)
	from := make(map[*Batch]origin)
	for p := range batches {
		batches[p] = make([]*Batch, perPusher)
		for i := range batches[p] {
			b := &Batch{}
			batches[p][i] = b
			from[b] = origin{p, i}
		}
	}
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range batches[p] {
				if _, _, err := q.push(b); err != nil {
					t.Errorf("push: %v", err)
					return
				}
			}
		}()
	}
	pushed := make(chan struct{})
	go func() { wg.Wait(); close(pushed) }()
	next := make([]int, pushers)
	taken := 0
	take := func() {
		_, got := q.take(newSyncGroup())
		for _, b := range got {
			o, ok := from[b]
			if !ok {
				t.Fatalf("took a batch nobody pushed")
			}
			if o.seq != next[o.pusher] {
				t.Fatalf("pusher %d: took batch %d, want %d (lost, repeated or reordered)", o.pusher, o.seq, next[o.pusher])
			}
			next[o.pusher]++
			taken++
		}
	}
	for done := false; !done; {
		select {
		case <-pushed:
			done = true
		default:
		}
		take()
	}
	take()
	if taken != pushers*perPusher {
		t.Fatalf("took %d batches, pushed %d", taken, pushers*perPusher)
	}
	errFinal := errors.New("final")
	if sg, _ := q.take(&syncGroup{final: errFinal}); sg == nil {
		t.Fatal("take returned no group before the final one was installed")
	}
	if _, _, err := q.push(&Batch{}); !errors.Is(err, errFinal) {
		t.Fatalf("push after the final group: err %v, want %v", err, errFinal)
	}
	if sg, got := q.take(newSyncGroup()); sg != nil || got != nil {
		t.Fatal("take replaced the final group")
	}
}
