package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilladb/flotilla/server"
)

// clientFlags are shared by the commands that talk to a node's HTTP API.
type clientFlags struct {
	addr    string
	timeout time.Duration
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "addr", server.DefaultHTTPAddr, "HTTP address of the node to ask")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 15*time.Second, "give up after this long")
}

// do sends one request to the node's admin API and decodes a JSON answer
// into out (when not nil). A non-2xx answer is an error with the node's
// message.
func (f *clientFlags) do(ctx context.Context, method, path string, body io.Reader, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+f.addr+path, body)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

func kvPath(key string) string { return "/api/kv/" + url.PathEscape(key) }

func newGetCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print a key's value (exit 1 if absent)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var kv server.KVJSON
			if _, err := f.do(cmd.Context(), http.MethodGet, kvPath(args[0]), nil, &kv); err != nil {
				return err
			}
			if kv.ValueBase64 != nil {
				_, err := cmd.OutOrStdout().Write(kv.ValueBase64)
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), kv.Value)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newPutCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "put KEY VALUE",
		Short: "Set a key to a value",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := f.do(cmd.Context(), http.MethodPut, kvPath(args[0]), strings.NewReader(args[1]), nil)
			if err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "OK")
			}
			return err
		},
	}
	f.register(cmd)
	return cmd
}

func newDelCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "del KEY",
		Short: "Delete a key (prints whether it existed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct{ Deleted bool }
			if _, err := f.do(cmd.Context(), http.MethodDelete, kvPath(args[0]), nil, &out); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), map[bool]string{true: "deleted", false: "absent"}[out.Deleted])
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newScanCmd() *cobra.Command {
	var f clientFlags
	var start, end string
	var limit int
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Print the keys and values in [--start, --end), in key order",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{"start": {start}, "end": {end}, "limit": {fmt.Sprint(limit)}}
			var page server.ScanJSON
			if _, err := f.do(cmd.Context(), http.MethodGet, "/api/scan?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			for _, kv := range page.Pairs {
				v := kv.Value
				if kv.ValueBase64 != nil {
					v = fmt.Sprintf("%q", kv.ValueBase64)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", kv.Key, v)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&start, "start", "", "first key (inclusive); default the beginning")
	cmd.Flags().StringVar(&end, "end", "", "last key (exclusive); default the end of the key space")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many pairs")
	f.register(cmd)
	return cmd
}
