package main

import (
	"github.com/spf13/cobra"

	"github.com/flotilladb/flotilla/bench/harness"
)

// newBenchCmd runs the benchmark harness (bench/harness), the same as
// `go run ./bench`, with its own flags.
func newBenchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "bench [harness flags]",
		Short: "Run the benchmark harness (in-process cluster, or a running one with -addrs)",
		Long: `bench runs Flotilla's benchmark harness, exactly as "go run ./bench" does:
named scenarios (write, read, mixed, scan, idle, wal, failover, recovery,
ceiling) against a cluster it starts in this process, or against a running
cluster given its Redis-protocol addresses with -addrs (for example the
ports "shardnode local" prints). The flags are the harness's own, written
with one dash; "shardnode bench -h" lists them.

  shardnode bench -scenario write -groups 1024 -clients 256 -size 16 -duration 15s
  shardnode bench -scenario write,read -addrs 127.0.0.1:6379,127.0.0.1:6380,127.0.0.1:6381 -out results

Results are JSON lines on standard output; -out DIR also writes a Markdown
table and SVG plots. docs/benchmarks.md has the scenarios and figures.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "--help" {
					return cmd.Help()
				}
			}
			return harness.Main("shardnode bench", args)
		},
	}
}
