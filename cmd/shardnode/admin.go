package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// The placement admin commands. Each is one POST to a node's
// /api/admin/... (server/placement.go), which runs it through that node's
// placement layer; any node of the cluster will do.

// adminCmd builds a command that posts to path with the query params
// produces and prints the JSON answer.
func adminCmd(use, short, long string, setup func(cmd *cobra.Command), params func() (url.Values, error)) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := params()
			if err != nil {
				return err
			}
			var out map[string]any
			path := "/api/admin/" + cmd.Name() + "?" + q.Encode()
			if _, err := f.do(cmd.Context(), http.MethodPost, path, nil, &out); err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	setup(cmd)
	f.register(cmd)
	cmd.Flags().Lookup("timeout").DefValue = "5m0s"
	f.timeout = 5 * time.Minute
	return cmd
}

func newRebalanceCmd() *cobra.Command {
	var dry bool
	return adminCmd("rebalance", "Show the placement plan and (without --dry-run) carry it out",
		`rebalance asks the planner what it would do now (repairs, drains, splits,
replica and leader balance) and prints the actions; without --dry-run it
also starts them. The placement driver does the same by itself every
second; rebalance is for seeing the plan and for running it at once.`,
		func(cmd *cobra.Command) { cmd.Flags().BoolVar(&dry, "dry-run", false, "only print the plan") },
		func() (url.Values, error) { return url.Values{"dry_run": {fmt.Sprint(dry)}}, nil })
}

func newDrainCmd() *cobra.Command {
	var node uint64
	var wait bool
	return adminCmd("drain", "Move every replica and leadership away from a node",
		`drain marks a node as draining in the meta shard; the placement driver then
moves its replicas and leaderships to the other nodes. With --wait it
returns once the node holds nothing.`,
		func(cmd *cobra.Command) {
			cmd.Flags().Uint64Var(&node, "node", 0, "the node to drain (required)")
			cmd.Flags().BoolVar(&wait, "wait", false, "wait until the node holds no replica")
			_ = cmd.MarkFlagRequired("node")
		},
		func() (url.Values, error) {
			return url.Values{"node": {fmt.Sprint(node)}, "wait": {fmt.Sprint(wait)}}, nil
		})
}

func newMoveCmd() *cobra.Command {
	var id, from, to uint64
	return adminCmd("move", "Move a shard's replica from one node to another",
		`move adds a learner on --to, waits until it has caught up, and replaces
--from with it in one joint-consensus change (--from 0: only add).`,
		func(cmd *cobra.Command) {
			cmd.Flags().Uint64Var(&id, "shard", 0, "the shard (required)")
			cmd.Flags().Uint64Var(&from, "from", 0, "the node that gives up its replica (0: none, only add)")
			cmd.Flags().Uint64Var(&to, "to", 0, "the node that gets the replica (required)")
			_ = cmd.MarkFlagRequired("shard")
			_ = cmd.MarkFlagRequired("to")
		},
		func() (url.Values, error) {
			q := url.Values{"shard": {fmt.Sprint(id)}, "to": {fmt.Sprint(to)}}
			if from != 0 {
				q.Set("from", fmt.Sprint(from))
			} else {
				q.Set("from", "0")
			}
			return q, nil
		})
}

func newSplitCmd() *cobra.Command {
	var id uint64
	var key string
	return adminCmd("split", "Split a shard at a key (default: its middle key)",
		`split splits a shard in two with one Raft command: the shard keeps the keys
below --key, a new shard with the same replicas takes the rest.`,
		func(cmd *cobra.Command) {
			cmd.Flags().Uint64Var(&id, "shard", 0, "the shard (required)")
			cmd.Flags().StringVar(&key, "key", "", "the first key of the new shard (default: the shard's middle key)")
			_ = cmd.MarkFlagRequired("shard")
		},
		func() (url.Values, error) {
			q := url.Values{"shard": {fmt.Sprint(id)}}
			if key != "" {
				q.Set("key", key)
			}
			return q, nil
		})
}

func newTransferLeaderCmd() *cobra.Command {
	var id, to uint64
	return adminCmd("transfer-leader", "Hand a shard's leadership to another of its voters",
		`transfer-leader asks the shard's leader to hand leadership to --to and waits
until it has.`,
		func(cmd *cobra.Command) {
			cmd.Flags().Uint64Var(&id, "shard", 0, "the shard (required)")
			cmd.Flags().Uint64Var(&to, "to", 0, "the voter to lead it (required)")
			_ = cmd.MarkFlagRequired("shard")
			_ = cmd.MarkFlagRequired("to")
		},
		func() (url.Values, error) {
			return url.Values{"shard": {fmt.Sprint(id)}, "to": {fmt.Sprint(to)}}, nil
		})
}
