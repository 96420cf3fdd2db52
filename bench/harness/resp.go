package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// With -addrs the workload goes to a running cluster through a Redis
// client (go-redis), one connection pool per address; client i sends
// every request to address i mod n, and the nodes route it to the
// shard's leader themselves. The counters come from each node's INFO
// stats; cpu_cores and rss_mb are those of the nodes' processes when
// they run on this machine (their process_id, from INFO, read in
// /proc), else 0. Heartbeat frames are not exposed over RESP: 0.

// respWorkloads are the scenarios that can run against -addrs.
func respWorkloads() []string { return []string{"write", "read", "mixed90", "mixed50", "scan"} }

func respRunners() map[string]runFunc {
	m := make(map[string]runFunc)
	for _, w := range respWorkloads() {
		m[w] = runRESP
	}
	return m
}

// respCluster is a running cluster reached over RESP.
type respCluster struct {
	addrs   []string
	clients []*redis.Client
	pids    []int // local processes serving the addresses, deduplicated
	shards  int
}

func dialRESP(ctx context.Context, cfg config, poolSize int) (*respCluster, error) {
	rc := &respCluster{addrs: cfg.addrs}
	for _, a := range cfg.addrs {
		c := redis.NewClient(&redis.Options{Addr: a, PoolSize: poolSize, MinIdleConns: 0,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, Protocol: 2})
		rc.clients = append(rc.clients, c)
		if err := c.Ping(ctx).Err(); err != nil {
			rc.close()
			return nil, fmt.Errorf("%s: %w", a, err)
		}
	}
	seen := map[int]bool{}
	for i, c := range rc.clients {
		info, err := respInfo(ctx, c)
		if err != nil {
			rc.close()
			return nil, fmt.Errorf("%s: INFO: %w", cfg.addrs[i], err)
		}
		if i == 0 {
			rc.shards = int(info["flotilla_shards"])
		}
		pid := int(info["process_id"])
		if pid > 0 && !seen[pid] && isLoopback(cfg.addrs[i]) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
				rc.pids = append(rc.pids, pid)
				seen[pid] = true
			}
		}
	}
	return rc, nil
}

func (rc *respCluster) close() {
	for _, c := range rc.clients {
		_ = c.Close()
	}
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// respInfo returns the numeric fields of a node's INFO.
func respInfo(ctx context.Context, c *redis.Client) (map[string]float64, error) {
	s, err := c.Info(ctx, "all").Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
		}
	}
	return out, nil
}

// counters sums the nodes' INFO stats and reads their processes' CPU
// time and resident set.
func (rc *respCluster) counters() counterSnapshot {
	cs := counterSnapshot{remote: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range rc.clients {
		info, err := respInfo(ctx, c)
		if err != nil {
			continue
		}
		f := uint64(info["flotilla_fsyncs"])
		cs.fsyncs += f
		cs.entries += uint64(info["flotilla_entries_per_fsync"]*float64(f) + 0.5)
		cs.messages += uint64(info["flotilla_messages_sent"])
		cs.forwarded += uint64(info["flotilla_forwarded"])
		cs.replicas += int(info["flotilla_replicas"])
		cs.quiesced += int(info["flotilla_replicas_quiesced"])
	}
	for _, pid := range rc.pids {
		cpu, rss := procUsage(pid)
		cs.remoteCPU += cpu
		cs.remoteRSS += rss
	}
	return cs
}

// runRESP runs one key-value step against the cluster at cfg.addrs.
func runRESP(ctx context.Context, cfg config, s step) (Result, error) {
	rc, err := dialRESP(ctx, cfg, s.clients/len(cfg.addrs)+8)
	if err != nil {
		return Result{}, err
	}
	defer rc.close()
	n := 0
	switch s.workload {
	case "read", "mixed90", "mixed50":
		n = cfg.preloadKeys(readKeys(s.groups))
	case "scan":
		n = cfg.preloadKeys(scanKeys(s.groups))
	}
	keys := randomKeys(cfg.seed, n)
	if err := rc.preload(ctx, keys, s.size, s.clients, cfg.setupTimeout()); err != nil {
		return Result{}, err
	}
	res, _, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		counters: rc.counters, prof: cfg.prof, progress: cfg.progress, label: s.label(),
		newOp: func(i int) clientOp { return rc.op(cfg, s, i, keys) },
	})
	res.System, res.Workload = "flotilla-resp", s.workload
	res.Groups, res.Clients, res.Size = rc.shards, s.clients, s.size
	res.Note = fmt.Sprintf("through RESP (go-redis) at %s; cpu_cores and rss_mb of %d local server process(es), not the client; heartbeat frames not exposed over RESP",
		strings.Join(cfg.addrs, ","), len(rc.pids))
	if s.workload == "scan" {
		res.Note += fmt.Sprintf("; SCAN 0 MATCH <2 hex digits>* COUNT %d", cfg.scanLimit)
	}
	return res, err
}

// op returns client i's request for s's workload.
func (rc *respCluster) op(cfg config, s step, i int, keys []uint32) clientOp {
	c := rc.clients[i%len(rc.clients)]
	rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)+4))
	val := randomValue(rng, s.size)
	var key []byte
	pick := func() string {
		k := rng.Uint32()
		if len(keys) > 0 {
			k = keys[rng.IntN(len(keys))]
		}
		key = formatKey(key[:0], k)
		return string(key)
	}
	write := func(ctx context.Context) error { return c.Set(ctx, pick(), val, 0).Err() }
	read := func(ctx context.Context) error {
		k := pick()
		err := c.Get(ctx, k).Err()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("key %s written before the run is missing", k)
		}
		return err
	}
	switch s.workload {
	case "write":
		return write
	case "read":
		return read
	case "scan":
		return func(ctx context.Context) error {
			match := fmt.Sprintf("%02x*", rng.IntN(256))
			return c.Scan(ctx, 0, match, int64(cfg.scanLimit)).Err()
		}
	}
	frac := readFraction(s.workload)
	return func(ctx context.Context) error {
		if rng.Float64() < frac {
			return read(ctx)
		}
		return write(ctx)
	}
}

// preload SETs keys with size-byte values, parallel at a time.
func (rc *respCluster) preload(ctx context.Context, keys []uint32, size, parallel int, limit time.Duration) error {
	val := make([]byte, size)
	return preloadKeys(ctx, keys, parallel, limit, func(ctx context.Context, w int, _ uint32, key []byte) error {
		return rc.clients[w%len(rc.clients)].Set(ctx, string(key), val, 0).Err()
	})
}
