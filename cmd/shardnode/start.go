package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilladb/flotilla/placement"
	"github.com/flotilladb/flotilla/placement/gossip"
	"github.com/flotilladb/flotilla/placement/plan"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/server"
	"github.com/flotilladb/flotilla/shard"
)

type startFlags struct {
	id         uint64
	dataDir    string
	raftAddr   string
	clientAddr string
	httpAddr   string
	peers      string
	password   string
	split      splitFlags
	// Gossip membership and placement (--gossip-addr turns them on).
	gossipAddr      string
	join            string
	bootstrapExpect int
	replicas        int
	deadTimeout     time.Duration
	balanceLoad     bool
	splitSize       uint64
	splitRate       float64
	snapshotRate    int64
	leaseReads      bool
}

func newStartCmd() *cobra.Command {
	var f startFlags
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run one node",
		Long: `start runs one node until SIGINT or SIGTERM.

Without --peers it is a single-node cluster. With --peers it is one member
of a static cluster: start every member with the same --peers and --shards
(the first start of an empty --data-dir creates the initial shards with
every member as a replica). A request for a shard the node does not lead
is forwarded to the leader's node over the Raft transport.

Example, three nodes on one machine:

  shardnode start --id 1 --data-dir d1 --client-addr :6379 --http-addr :7379 \
    --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
  (and the same with --id 2, 3 and their own addresses)

Every flag can also come from the environment, FLOTILLA_ and the flag's
name in capitals with '-' as '_' (FLOTILLA_DATA_DIR=d1), or from a TOML
file named by --config (or FLOTILLA_CONFIG) whose keys are the flag names:

  # /etc/flotilla/node1.toml
  id = 1
  data-dir = "/var/lib/flotilla"
  peers = ["1=10.0.0.1:7001", "2=10.0.0.2:7001", "3=10.0.0.3:7001"]

A flag on the command line wins over the environment, which wins over the
file, which wins over the default.

With --gossip-addr the node is a member of a placement-managed cluster
instead: nodes find each other by gossip (--join lists seed nodes' gossip
addresses), the placement table lives in the meta shard, and the placement
driver re-replicates shards of dead nodes and balances replicas and
leaders. --bootstrap-expect N makes N nodes started at once with empty
data directories form a new cluster (the N lowest IDs seen found it); a
node that already has data ignores it, and a new node started later with
--join only joins and is given replicas by the driver.

Example, three nodes forming a new cluster, then a fourth joining:

  shardnode start --id 1 --data-dir d1 --raft-addr 127.0.0.1:7001 --gossip-addr 127.0.0.1:7101 \
    --client-addr :6379 --http-addr :7379 --bootstrap-expect 3 --join 127.0.0.1:7101
  (ids 2 and 3 alike, with their own addresses and the same --join)
  shardnode start --id 4 --data-dir d4 --raft-addr 127.0.0.1:7004 --gossip-addr 127.0.0.1:7104 \
    --client-addr :6382 --http-addr :7382 --join 127.0.0.1:7101`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runStart(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.id, "id", 1, "this node's ID (positive, unique in the cluster, never reused)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (required)")
	fl.StringVar(&f.raftAddr, "raft-addr", "", "node-to-node listen address (default: this node's entry in --peers)")
	fl.StringVar(&f.clientAddr, "client-addr", server.DefaultClientAddr, "Redis-protocol listen address")
	fl.StringVar(&f.httpAddr, "http-addr", server.DefaultHTTPAddr, "HTTP listen address (admin API, /metrics, pprof, health)")
	fl.StringVar(&f.peers, "peers", "", "static cluster: every node's Raft address, as id=host:port,... (this node included)")
	fl.StringVar(&f.password, "password", "", "require this password (AUTH) on the Redis-protocol port")
	fl.StringVar(&f.gossipAddr, "gossip-addr", "", "gossip listen address ip:port (TCP and UDP); turns on membership and placement")
	fl.StringVar(&f.join, "join", "", "gossip addresses of seed nodes to join through, comma-separated")
	fl.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "form a new cluster once this many nodes (with empty data) are up; ignored by a node with data")
	fl.IntVar(&f.replicas, "replicas", 3, "voters per shard the placement driver keeps")
	fl.DurationVar(&f.deadTimeout, "dead-timeout", 5*time.Minute, "how long a node must be dead before its replicas are replaced elsewhere")
	fl.BoolVar(&f.balanceLoad, "balance-load", false, "also move leaderships to even out the request rates nodes serve")
	fl.Uint64Var(&f.splitSize, "split-size", 0, "split a shard whose data reaches this many bytes (0: never)")
	fl.Float64Var(&f.splitRate, "split-rate", 0, "split a shard whose request rate reaches this many per second (0: never)")
	fl.Int64Var(&f.snapshotRate, "snapshot-rate", 0, "bytes/s all snapshots this node sends may use together (0: the transport's default, 128 MiB/s)")
	fl.BoolVar(&f.leaseReads, "lease-reads", false, "serve GET, MGET and EXISTS from the shard leader's lease, without a heartbeat round (linearizable only while clock rates differ by well under 10%; see docs/operations.md)")
	f.split.register(cmd)
	registerConfig(cmd)
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func runStart(cmd *cobra.Command, f *startFlags) error {
	log, err := newLogger(cmd)
	if err != nil {
		return err
	}
	o, err := f.nodeOptions()
	if err != nil {
		return err
	}
	log = log.With("node", f.id)
	o.Store.Logger, o.Server.Logger = log, log
	o.Store.LeaseReads, o.Server.LeaseReads = f.leaseReads, f.leaseReads
	knobsDone := make(chan struct{})
	defer close(knobsDone)
	if err := applyTestKnobs(&o, log, knobsDone); err != nil {
		return err
	}
	n, err := server.OpenNode(cmd.Context(), o)
	if err != nil {
		return err
	}
	printNode(cmd.OutOrStdout(), n)
	select {
	case <-cmd.Context().Done():
	case <-n.Store.Failed():
		// Fail-stop: after a failed fsync the page cache may have dropped
		// what the node acknowledged as durable, so it must not serve on;
		// a restart recovers from what is on disk. The process exits at
		// once, closing nothing gracefully (a close waits for requests in
		// flight, forwarded ones up to their deadline): to the data that
		// is a crash, which recovery handles.
		err := n.Store.Err()
		log.Error("stopping: fatal storage error (fail-stop); restart the node to recover from its disk", "err", err)
		return fmt.Errorf("node %d stopped after a fatal storage error: %w", f.id, err)
	}
	log.Info("stopping")
	closeNodes([]*server.Node{n}, log)
	log.Info("stopped")
	return nil
}

func (f *startFlags) nodeOptions() (server.NodeOptions, error) {
	if f.id == 0 {
		return server.NodeOptions{}, fmt.Errorf("--id must be positive")
	}
	peers, err := parsePeers("--peers", f.peers)
	if err != nil {
		return server.NodeOptions{}, err
	}
	id := raftpb.NodeID(f.id)
	if f.gossipAddr != "" {
		return f.placementOptions(id)
	}
	if f.join != "" || f.bootstrapExpect != 0 {
		return server.NodeOptions{}, fmt.Errorf("--join and --bootstrap-expect need --gossip-addr")
	}
	if len(peers) == 0 && f.raftAddr != "" {
		return server.NodeOptions{}, fmt.Errorf("--raft-addr needs --peers or --gossip-addr (a single node talks to no other node)")
	}
	if len(peers) > 0 && peers[id] == "" {
		return server.NodeOptions{}, fmt.Errorf("--peers lacks this node (--id %d)", id)
	}
	splits, err := f.split.keys()
	if err != nil {
		return server.NodeOptions{}, err
	}
	o := server.NodeOptions{
		Store: shard.Options{Dir: f.dataDir, NodeID: id, ListenAddr: f.raftAddr, Peers: peers, SplitKeys: splits},
		Server: server.Options{ClientAddr: f.clientAddr, HTTPAddr: f.httpAddr, Password: f.password,
			Version: version, Liveness: &server.Liveness{}},
	}
	o.Server.Liveness.Watch(&o.Store.TransportOptions.Events)
	o.Store.TransportOptions.SnapshotBytesPerSec = f.snapshotRate
	return o, nil
}

// placementOptions builds a gossip-managed node's options.
func (f *startFlags) placementOptions(id raftpb.NodeID) (server.NodeOptions, error) {
	if f.peers != "" {
		return server.NodeOptions{}, fmt.Errorf("--peers (a static cluster) and --gossip-addr (placement) exclude each other")
	}
	if f.raftAddr == "" {
		return server.NodeOptions{}, fmt.Errorf("--gossip-addr needs --raft-addr (this node's Raft address)")
	}
	if f.bootstrapExpect < 0 || f.replicas < 1 {
		return server.NodeOptions{}, fmt.Errorf("--bootstrap-expect must be >= 0 and --replicas >= 1")
	}
	splits, err := f.split.keys()
	if err != nil {
		return server.NodeOptions{}, err
	}
	var seeds []string
	for _, s := range strings.Split(f.join, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	o := server.NodeOptions{
		Store: shard.Options{Dir: f.dataDir, NodeID: id, ListenAddr: f.raftAddr, SplitKeys: splits},
		Server: server.Options{ClientAddr: f.clientAddr, HTTPAddr: f.httpAddr, Password: f.password,
			Version: version},
		Placement: &placement.Options{
			Gossip:          gossip.Config{BindAddr: f.gossipAddr},
			Seeds:           seeds,
			BootstrapExpect: f.bootstrapExpect,
			InitialShards:   f.split.shards,
			Plan: plan.Config{Replicas: f.replicas, DeadTimeout: f.deadTimeout, BalanceLoad: f.balanceLoad,
				SplitSizeBytes: f.splitSize, SplitRequestsPerSec: f.splitRate},
		},
	}
	o.Store.TransportOptions.SnapshotBytesPerSec = f.snapshotRate
	return o, nil
}

// parsePeers parses id=host:port,id=host:port.
func parsePeers(flag, s string) (map[raftpb.NodeID]string, error) {
	out := map[raftpb.NodeID]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		idStr, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		id, err := strconv.ParseUint(idStr, 10, 64)
		if !ok || err != nil || id == 0 || addr == "" {
			return nil, fmt.Errorf("%s: %q is not id=host:port", flag, part)
		}
		if _, dup := out[raftpb.NodeID(id)]; dup {
			return nil, fmt.Errorf("%s: node %d listed twice", flag, id)
		}
		out[raftpb.NodeID(id)] = addr
	}
	return out, nil
}
