package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flotilladb/flotilla/server"
)

func newStatusCmd() *cobra.Command {
	var f clientFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a node's options, counters and shards (leader, applied index)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var st server.StatusJSON
			if _, err := f.do(cmd.Context(), http.MethodGet, "/api/status", nil, &st); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(cmd.OutOrStdout(), &st)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON status")
	f.register(cmd)
	return cmd
}

func printStatus(out io.Writer, st *server.StatusJSON) {
	ready := "yes"
	if !st.Ready {
		ready = "no (" + st.NotReady + ")"
	}
	fmt.Fprintf(out, "node %d (version %s)  resp=%s  http=%s  ready: %s\n", st.Node, st.Version, st.ClientAddr, st.HTTPAddr, ready)
	fmt.Fprintf(out, "store:  %s\nserver: %s\n", st.StoreOptions, st.ServerOptions)
	m := st.Metrics
	fmt.Fprintf(out, "proposals=%d reads=%d forwarded=%d fsyncs=%d entries/fsync=%.1f replicas=%d quiesced=%d\n\n",
		m.Proposals, m.Reads, m.Forwarded, m.Fsyncs, m.EntriesPerSync, m.Replicas, m.QuiescedReplicas)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTART\tEND\tREPLICAS\tLEADER\tAPPLIED\tQUIESCED")
	for _, sh := range st.Shards {
		end := fmt.Sprintf("%q", sh.End)
		if sh.End == "" {
			end = "+inf"
		}
		leader := fmt.Sprint(sh.Leader)
		if sh.Leader == 0 {
			leader = "?"
		}
		fmt.Fprintf(tw, "%d\t%q\t%s\t%v\t%s\t%d\t%v\n", sh.ID, sh.Start, end, sh.Replicas, leader, sh.Applied, sh.Quiesced)
	}
	_ = tw.Flush()
}
