package main

import (
	"github.com/spf13/cobra"

	"github.com/flotilladb/flotilla/shard"
)

// splitFlags choose the initial shards of a new cluster. Keys are split
// evenly over fmt.Sprintf(--key-format, i) for 0 <= i < --key-space. The
// default, "key:%012d" over 10^12, is the key format redis-benchmark
// uses with -r, so a benchmark spreads over every shard; other keys
// still work, they just land in the shard whose range holds them.
type splitFlags struct {
	shards    int
	keyFormat string
	keySpace  uint64
}

func (f *splitFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.shards, "shards", 8, "number of initial shards (a new cluster only; every node must be given the same)")
	fl.StringVar(&f.keyFormat, "key-format", "key:%012d", "printf format of the keys the initial shards split evenly; must sort like its integer (zero-padded)")
	fl.Uint64Var(&f.keySpace, "key-space", 1_000_000_000_000, "the integers 0..key-space-1 fed to --key-format")
}

// keys returns the split keys (shards-1 of them).
func (f *splitFlags) keys() ([][]byte, error) {
	return shard.EvenSplitKeys(f.keyFormat, 0, f.keySpace, f.shards)
}
