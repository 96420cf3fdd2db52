package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilladb/flotilla/placement"
	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/server"
	"github.com/flotilladb/flotilla/shard"
)

// localNodes is the size of the `local` cluster.
const localNodes = 3

type localFlags struct {
	dataDir    string
	clientPort int
	httpPort   int
	password   string
	split      splitFlags
}

func newLocalCmd() *cobra.Command {
	var f localFlags
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a 3-node cluster in this process, on loopback",
		Long: `local runs three nodes in one process, on 127.0.0.1: a placement-managed
cluster, as three "start --gossip-addr ... --bootstrap-expect 3" processes
would form, with real TCP between the stores and real gossip. Each node
has its own Redis-protocol port and HTTP port. It prints the addresses and
the dashboard's URL (node 1's HTTP port), waits until every shard has a
leader, and runs until Ctrl-C (SIGINT) or SIGTERM, then closes every node
cleanly.

Node i (1..3) listens for clients on --client-port+i-1 and for HTTP on
--http-port+i-1 (port 0: free ports). A request reaching a node that does
not lead the key's shard is forwarded to the leader's node. The admin
commands (status, rebalance, drain, move, split, transfer-leader) work
against any of the HTTP ports.

Without --data-dir the data lives in a new temporary directory that is
removed on exit; with it, a restart recovers the data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runLocal(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (node i in <dir>/node<i>); default: a temporary directory removed on exit")
	fl.IntVar(&f.clientPort, "client-port", 6379, "Redis-protocol port of node 1 (nodes 2 and 3 take the next ports); 0 picks free ports")
	fl.IntVar(&f.httpPort, "http-port", 7379, "HTTP port of node 1 (nodes 2 and 3 take the next ports); 0 picks free ports")
	fl.StringVar(&f.password, "password", "", "require this password (AUTH) on the Redis-protocol ports")
	f.split.register(cmd)
	return cmd
}

func runLocal(cmd *cobra.Command, f *localFlags) error {
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	splits, err := f.split.keys()
	if err != nil {
		return err
	}
	dir, cleanup, err := localDataDir(f.dataDir)
	if err != nil {
		return err
	}
	defer cleanup()
	nodes, err := openLocalNodes(cmd.Context(), f, dir, splits, log)
	if err != nil {
		return err
	}
	defer closeNodes(nodes, log)
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "Flotilla local cluster: %d nodes, %d shards, data in %s\n", len(nodes), len(splits)+1, dir)
	for _, n := range nodes {
		printNode(out, n)
	}
	fmt.Fprintf(out, "dashboard: http://%s/\n", nodes[0].Server.HTTPAddr())
	if err := waitReady(cmd.Context(), nodes, 60*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out, "ready: connect with  redis-cli -p %s   (Ctrl-C stops the cluster)\n",
		portOf(nodes[0].Server.ClientAddr()))
	<-cmd.Context().Done()
	fmt.Fprintln(out, "stopping")
	closeNodes(nodes, log)
	fmt.Fprintln(out, "stopped")
	return nil
}

// localDataDir returns the data directory and what to do on exit: a
// temporary directory is removed, a given one kept.
func localDataDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "flotilla-local-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

// localAddrs picks the Raft, client and HTTP addresses of the nodes.
func localAddrs(f *localFlags) (raft, client, http map[raftpb.NodeID]string, err error) {
	free, err := freeLoopbacks(2 * localNodes)
	if err != nil {
		return nil, nil, nil, err
	}
	raft, client, http = map[raftpb.NodeID]string{}, map[raftpb.NodeID]string{}, map[raftpb.NodeID]string{}
	for i := 1; i <= localNodes; i++ {
		id := raftpb.NodeID(i)
		raft[id], client[id], http[id] = free[2*i-2], "127.0.0.1:0", free[2*i-1]
		if f.clientPort != 0 {
			client[id] = "127.0.0.1:" + strconv.Itoa(f.clientPort+i-1)
		}
		if f.httpPort != 0 {
			http[id] = "127.0.0.1:" + strconv.Itoa(f.httpPort+i-1)
		}
	}
	return raft, client, http, nil
}

func openLocalNodes(ctx context.Context, f *localFlags, dir string, splits [][]byte, log *slog.Logger) ([]*server.Node, error) {
	rafts, clients, https, err := localAddrs(f)
	if err != nil {
		return nil, err
	}
	gossips, err := freeLoopbacks(localNodes)
	if err != nil {
		return nil, err
	}
	// The three nodes form a new cluster together (bootstrap-expect 3), so
	// they open at once; a restart on the same --data-dir recovers instead.
	nodes := make([]*server.Node, localNodes)
	errs := make([]error, localNodes)
	var wg sync.WaitGroup
	for i := 1; i <= localNodes; i++ {
		id := raftpb.NodeID(i)
		nlog := log.With("node", i)
		o := server.NodeOptions{
			Store: shard.Options{Dir: filepath.Join(dir, "node"+strconv.Itoa(i)), NodeID: id,
				ListenAddr: rafts[id], SplitKeys: splits, Logger: nlog},
			Server: server.Options{ClientAddr: clients[id], HTTPAddr: https[id],
				Password: f.password, Logger: nlog, Version: version},
			Placement: &placement.Options{
				Gossip:          gossip.Config{BindAddr: gossips[i-1], Profile: gossip.Loopback},
				Seeds:           []string{gossips[0]},
				BootstrapExpect: localNodes,
				InitialShards:   len(splits) + 1,
				Plan:            plan.Config{DeadTimeout: time.Minute},
			},
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i-1], errs[i-1] = server.OpenNode(ctx, o)
			if errs[i-1] != nil {
				errs[i-1] = fmt.Errorf("node %d: %w", i, errs[i-1])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var opened []*server.Node
		for _, n := range nodes {
			if n != nil {
				opened = append(opened, n)
			}
		}
		closeNodes(opened, log)
		return nil, err
	}
	return nodes, nil
}

// freeLoopbacks returns n distinct loopback addresses whose ports were
// free a moment ago: all are held open together, then released. NB:
// another process may take one before the node binds it; the node then
// fails to start with a clear "address in use" error.
func freeLoopbacks(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func printNode(out io.Writer, n *server.Node) {
	o := n.Store.Options()
	raft := o.ListenAddr
	if raft == "" {
		raft = o.Peers[o.NodeID]
	}
	fmt.Fprintf(out, "node %d: resp=%s http=http://%s raft=%s\n",
		n.Store.NodeID(), n.Server.ClientAddr(), n.Server.HTTPAddr(), raft)
}

// waitReady polls until every shard of every node has a leader.
func waitReady(ctx context.Context, nodes []*server.Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		why := ""
		for _, n := range nodes {
			if ok, reason := n.Server.Ready(); !ok {
				why = fmt.Sprintf("node %d: %s", n.Store.NodeID(), reason)
				break
			}
		}
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready after %v: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted before the cluster was ready")
		case <-t.C:
		}
	}
}

func closeNodes(nodes []*server.Node, log *slog.Logger) {
	for _, n := range nodes {
		if err := n.Close(); err != nil {
			log.Error("closing node", "node", n.Store.NodeID(), "err", err)
		}
	}
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return port
}
