package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/flotilladb/flotilla/shard"
)

func main() {
	if os.Getenv("GOMAXPROCS") == "" {
		// Ps for the goroutines blocked in fdatasync: see
		// shard.RecommendedGOMAXPROCS.
		runtime.GOMAXPROCS(shard.RecommendedGOMAXPROCS(runtime.GOMAXPROCS(0)))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shardnode:", err)
		os.Exit(1)
	}
}
