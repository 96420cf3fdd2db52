package shard_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/flotilladb/flotilla/shard"
)

// A single node embedded in a program: open a data directory, write, read.
func Example() {
	dir, err := os.MkdirTemp("", "flotilla-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := shard.Open(ctx, shard.Options{Dir: dir, SplitKeys: [][]byte{[]byte("m")}})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := db.Put(ctx, []byte("greeting"), []byte("hello")); err != nil {
		log.Fatal(err)
	}
	v, found, err := db.Get(ctx, []byte("greeting"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v), found)
	// Output: hello true
}

// Compare-and-swap: the write happens only if the key holds the expected
// value; otherwise the error says what it holds.
func ExampleStore_CompareAndSwap() {
	dir, _ := os.MkdirTemp("", "flotilla-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := shard.Open(ctx, shard.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	_ = db.Put(ctx, []byte("balance"), []byte("10"))
	err = db.CompareAndSwap(ctx, []byte("balance"), []byte("7"), []byte("12"))
	fmt.Println(err)
	err = db.CompareAndSwap(ctx, []byte("balance"), []byte("10"), []byte("12"))
	fmt.Println(err)
	// Output:
	// shard: condition failed on "balance"
	// <nil>
}

// A scan walks the shards in key order.
func ExampleStore_Scan() {
	dir, _ := os.MkdirTemp("", "flotilla-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	splits, _ := shard.EvenSplitKeys("user%04d", 0, 10000, 4) // four shards
	db, err := shard.Open(ctx, shard.Options{Dir: dir, SplitKeys: splits})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	for _, id := range []int{9001, 42, 5000} {
		_ = db.Put(ctx, []byte(fmt.Sprintf("user%04d", id)), []byte("x"))
	}
	kvs, _ := db.Scan(ctx, []byte("user"), nil, 10)
	for _, kv := range kvs {
		fmt.Println(string(kv.Key))
	}
	// Output:
	// user0042
	// user5000
	// user9001
}

// GetMany reads several keys; those of one shard are read at one moment,
// so a batch written to them is seen whole or not at all.
func ExampleStore_GetMany() {
	dir, _ := os.MkdirTemp("", "flotilla-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := shard.Open(ctx, shard.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// One atomic batch: both keys or neither.
	_, err = db.Exec(ctx, shard.Command{Ops: []shard.Op{
		{Kind: shard.OpPut, Key: []byte("from"), Value: []byte("-5")},
		{Kind: shard.OpPut, Key: []byte("to"), Value: []byte("+5")},
	}})
	if err != nil {
		log.Fatal(err)
	}
	vals, found, err := db.GetMany(ctx, [][]byte{[]byte("from"), []byte("to"), []byte("nobody")})
	if err != nil {
		log.Fatal(err)
	}
	for i, v := range vals {
		fmt.Printf("%q %v\n", v, found[i])
	}
	// Output:
	// "-5" true
	// "+5" true
	// "" false
}
