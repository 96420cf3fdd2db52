package shard

import "testing"

func TestEvenSplitKeys(t *testing.T) {
	keys, err := EvenSplitKeys("key%08d", 0, 100000000, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"key25000000", "key50000000", "key75000000"}
	if len(keys) != len(want) {
		t.Fatalf("got %d keys, want %d", len(keys), len(want))
	}
	for i := range want {
		if string(keys[i]) != want[i] {
			t.Fatalf("key %d = %q, want %q", i, keys[i], want[i])
		}
	}
	if _, err := EvenSplitKeys("key%d", 0, 1000, 20); err == nil {
		t.Fatal("unpadded format accepted although its keys do not sort")
	}
	if _, err := EvenSplitKeys("key%08d", 0, 10, 11); err == nil {
		t.Fatal("more ranges than keys accepted")
	}
	keys, err = EvenSplitKeys("k%020d", 0, ^uint64(0), 10000)
	if err != nil || len(keys) != 9999 {
		t.Fatalf("10,000 shards over the whole uint64 space: %d keys, %v", len(keys), err)
	}
}
