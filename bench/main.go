// Command bench is the benchmark harness (package bench/harness): named
// scenarios against an in-process cluster or a running one. See
// `go run ./bench -h` and docs/benchmarks.md.
package main

import (
	"fmt"
	"os"

	"github.com/flotilladb/flotilla/bench/harness"
)

func main() {
	if err := harness.Main("go run ./bench", os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
