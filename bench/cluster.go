package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// clusterNodes is the size of the in-process cluster: three replicas per
// shard, one per node.
const clusterNodes = 3

// cluster is three shard.Stores in this process, talking over the real
// TCP transport on loopback, each with its own data directory and WAL.
type cluster struct {
	dir    string
	rmDir  bool
	stores []*shard.Store // stores[i] is node i+1
	ks     keySpace
}

// startCluster opens the three stores under cfg.dir (a fresh temporary
// directory when it is empty), bootstrapped with ks's split keys. Every
// store option is the default except those set here and cfg.workers.
func startCluster(ctx context.Context, cfg config, ks keySpace) (*cluster, error) {
	dir, err := os.MkdirTemp(cfg.dir, "flotilla-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, rmDir: true, ks: ks, stores: make([]*shard.Store, clusterNodes)}
	addrs, err := freeAddrs(clusterNodes)
	if err != nil {
		c.close()
		return nil, err
	}
	peers := make(map[raftpb.NodeID]string, clusterNodes)
	for i, a := range addrs {
		peers[raftpb.NodeID(i+1)] = a
	}
	split := ks.splitKeys()
	errs := make([]error, clusterNodes)
	var wg sync.WaitGroup
	for i := range clusterNodes {
		wg.Go(func() {
			id := raftpb.NodeID(i + 1)
			c.stores[i], errs[i] = shard.Open(ctx, shard.Options{
				Dir: filepath.Join(dir, fmt.Sprintf("node%d", id)), NodeID: id,
				Peers: peers, SplitKeys: split, Logger: cfg.logger, Workers: cfg.workers,
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.close()
		return nil, fmt.Errorf("opening stores: %w", err)
	}
	return c, nil
}

// freeAddrs picks n free loopback TCP addresses. NB: a port is free when
// picked; another process could take it before the store listens.
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// close closes every store and removes the data directory.
func (c *cluster) close() error {
	var errs []error
	for _, s := range c.stores {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if c.rmDir {
		errs = append(errs, os.RemoveAll(c.dir))
	}
	return errors.Join(errs...)
}

// counters sums the three stores' WAL and message counters.
func (c *cluster) counters() counterSnapshot {
	var cs counterSnapshot
	for _, s := range c.stores {
		m := s.Metrics()
		cs.fsyncs += m.Fsyncs
		// Metrics reports entries as a mean per fsync; undo the division.
		cs.entries += uint64(m.EntriesPerSync*float64(m.Fsyncs) + 0.5)
		cs.messages += m.MessagesSent
		cs.forwarded += m.Forwarded
		cs.replicas += m.Replicas
		cs.quiesced += m.QuiescedReplicas
	}
	return cs
}

// waitLeaders returns once every shard has a leader that serves a
// linearizable read, with rt's cache holding each shard's leader, or ctx
// ends.
func (c *cluster) waitLeaders(ctx context.Context, rt *router, parallel int) error {
	if err := c.learnLeaders(ctx, rt); err != nil {
		return err
	}
	if err := c.probeShards(ctx, rt, parallel); err != nil {
		return err
	}
	return c.learnLeaders(ctx, rt) // an election may have moved some
}

// learnLeaders polls the stores until every shard's leader is known to
// some store, and puts the leaders into rt's cache. NB: a store that can
// forward requests to the leader answers a request sent to a follower
// without a NotLeaderError, so the cache would never learn from hints.
func (c *cluster) learnLeaders(ctx context.Context, rt *router) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		known := make([]bool, c.ks.groups())
		n := 0
		for _, s := range c.stores {
			for _, st := range s.Shards() {
				i := int(st.Desc.ID - firstShardID)
				if st.Leader == raftpb.None || i < 0 || i >= len(known) || known[i] {
					continue
				}
				rt.leaders[i].Store(uint64(st.Leader))
				known[i] = true
				n++
			}
		}
		if n == len(known) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d shards have no leader: %w", len(known)-n, len(known), ctx.Err())
		case <-t.C:
		}
	}
}

// firstShardID is the ID of the first shard the stores bootstrap (their
// default); shard i of the key space has ID firstShardID+i.
const firstShardID = 1

// probeShards returns once every shard has served a linearizable read.
func (c *cluster) probeShards(ctx context.Context, rt *router, parallel int) error {
	shards := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			var key []byte
			for i := range shards {
				key = formatKey(key[:0], c.ks.firstKey(i))
				err := rt.do(ctx, i, func(s *shard.Store) error {
					_, _, err := s.Get(ctx, key)
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("shard %d has no leader: %w", i, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range c.ks.groups() {
		select {
		case shards <- i:
		case err = <-errs:
			break feed
		}
	}
	close(shards)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// waitQuiesced polls until every replica is quiesced or ctx ends; it
// returns the last count.
func (c *cluster) waitQuiesced(ctx context.Context) counterSnapshot {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		cs := c.counters()
		if cs.quiesced >= cs.replicas {
			return cs
		}
		select {
		case <-ctx.Done():
			return cs
		case <-t.C:
		}
	}
}
