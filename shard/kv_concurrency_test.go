package shard

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// TestKVReadsDuringApplies runs readers concurrently with rounds that each
// set all five keys of a shard to the round number, and checks that a
// reader never sees a round half-applied (a scan sees five equal values)
// nor going backwards. Run with -race to check the locking too.
func TestKVReadsDuringApplies(t *testing.T) {
	kv := openTestKV(t, nil, "kv")
	defer closeKV(t, kv)
	kvSetStates(t, kv, kvTestState(1, "", "", 0))
	const rounds = 300
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	done := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- readUntilDone(kv, done, r%2 == 0)
		}()
	}
	for i := 1; i <= rounds; i++ {
		v := strconv.Itoa(i)
		var c Command
		for k := range 5 {
			c.Ops = append(c.Ops, Op{Kind: OpPut, Key: fmt.Appendf(nil, "k%d", k), Value: []byte(v)})
		}
		kvApply(t, kv, 1, c)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readUntilDone reads until done is closed, by scans or by Gets.
func readUntilDone(kv *KV, done <-chan struct{}, scans bool) error {
	last := 0
	for {
		select {
		case <-done:
			return nil
		default:
		}
		var vals []string
		if scans {
			kvs, err := kv.Scan(1, nil, nil, 10)
			if err != nil {
				return err
			}
			for _, p := range kvs {
				vals = append(vals, string(p.Value))
			}
			if len(vals) != 0 && len(vals) != 5 {
				return fmt.Errorf("scan saw %d keys", len(vals))
			}
		} else {
			v, ok, err := kv.Get(1, []byte("k0"))
			if err != nil {
				return err
			}
			if ok {
				vals = []string{string(v)}
			}
		}
		for _, v := range vals {
			n, _ := strconv.Atoi(v)
			if n < last || (scans && v != vals[0]) {
				return fmt.Errorf("read %v after round %d", vals, last)
			}
		}
		if len(vals) > 0 {
			last, _ = strconv.Atoi(vals[0])
		}
	}
}
