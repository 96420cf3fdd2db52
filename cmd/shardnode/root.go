package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// version is the shardnode version reported by INFO and /api/status.
const version = "0.1.0-dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "shardnode",
		Short: "Run and operate Flotilla, a multi-Raft sharded key-value store",
		Long: `shardnode runs Flotilla nodes (a Redis-protocol client port, an HTTP admin
port, and the Raft transport between nodes) and talks to running nodes.

Try it:  shardnode local      (a 3-node cluster on this machine)
then:    redis-cli -p 6379`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(newLocalCmd(), newStartCmd(),
		newGetCmd(), newPutCmd(), newDelCmd(), newScanCmd(), newStatusCmd(),
		newRebalanceCmd(), newDrainCmd(), newMoveCmd(), newSplitCmd(), newTransferLeaderCmd(),
		newBenchCmd())
	return root
}

// newLogger builds the process's logger from --log-level (text to
// standard error).
func newLogger(cmd *cobra.Command) (*slog.Logger, error) {
	lv, _ := cmd.Flags().GetString("log-level")
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(lv))); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", lv, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}
