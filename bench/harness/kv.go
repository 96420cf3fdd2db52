package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/flotilladb/flotilla/shard"
)

// newKVCluster starts a cluster of s.groups shards and waits for every
// shard's leader.
func newKVCluster(ctx context.Context, cfg config, s step) (*cluster, *router, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.setupTimeout())
	defer cancel()
	start := time.Now()
	c, err := startCluster(ctx, cfg, newKeySpace(s.groups))
	if err != nil {
		return nil, nil, err
	}
	opened := time.Now()
	rt := newRouter(c)
	if err := c.waitLeaders(ctx, rt, 64); err != nil {
		err = fmt.Errorf("stores open after %v, then %d of %d shards led after %v more (RSS %d MB): %w",
			opened.Sub(start).Round(time.Millisecond), c.leaderCount(nil), s.groups,
			time.Since(opened).Round(time.Millisecond), rssBytes()>>20, err)
		c.close()
		return nil, nil, err
	}
	if d := time.Since(start); d > 10*time.Second {
		fmt.Fprintf(os.Stderr, "bench: %s: setup took %v (stores open after %v)\n", s, d.Round(time.Millisecond),
			opened.Sub(start).Round(time.Millisecond))
	}
	return c, rt, nil
}

// runKV runs the clients of a key-value step against c.
func runKV(ctx context.Context, cfg config, s step, c *cluster, newOp func(int) clientOp) (Result, error) {
	res, _, err := runClients(ctx, runSpec{
		clients: s.clients, warmup: cfg.warmup(), duration: cfg.duration,
		newOp: newOp, counters: c.counters, prof: cfg.prof, progress: cfg.progress,
		label: s.label(),
	})
	res.System, res.Workload = "flotilla", s.workload
	res.Groups, res.Clients, res.Size = s.groups, s.clients, s.size
	return res, err
}

// runWrite: every client Puts random keys with s.size-byte values.
func runWrite(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	return runKV(ctx, cfg, s, c, func(i int) clientOp {
		return writeOp(rt, cfg.seed, i, s.size, nil)
	})
}

// writeOp returns a client that Puts size-byte values to random keys, or
// to random keys of keys when it is not empty.
func writeOp(rt *router, seed uint64, client, size int, keys []uint32) clientOp {
	rng := rand.New(rand.NewPCG(seed, uint64(client)))
	val := randomValue(rng, size)
	var key []byte
	return func(ctx context.Context) error {
		k := rng.Uint32()
		if len(keys) > 0 {
			k = keys[rng.IntN(len(keys))]
		}
		key = formatKey(key[:0], k)
		return rt.do(ctx, rt.c.ks.shardOf(k), func(st *shard.Store) error {
			return st.Put(ctx, key, val)
		})
	}
}

func randomValue(rng *rand.Rand, size int) []byte {
	val := make([]byte, size)
	for j := range val {
		val[j] = byte('a' + rng.IntN(26))
	}
	return val
}

// readOp returns a client that does linearizable Gets of random keys of
// keys, all written before the run.
func readOp(rt *router, seed uint64, client int, keys []uint32) clientOp {
	rng := rand.New(rand.NewPCG(seed, uint64(client)+1))
	var key []byte
	return func(ctx context.Context) error {
		k := keys[rng.IntN(len(keys))]
		key = formatKey(key[:0], k)
		return rt.do(ctx, rt.c.ks.shardOf(k), func(st *shard.Store) error {
			_, found, err := st.Get(ctx, key)
			if err == nil && !found {
				return fmt.Errorf("key %s written before the run is missing", key)
			}
			return err
		})
	}
}

// preloaded starts a cluster for s and writes n keys with s.size-byte
// values before any clock starts.
func preloaded(ctx context.Context, cfg config, s step, n int) (*cluster, *router, []uint32, error) {
	c, rt, err := newKVCluster(ctx, cfg, s)
	if err != nil {
		return nil, nil, nil, err
	}
	keys := randomKeys(cfg.seed, n)
	if err := preload(ctx, rt, keys, s.size, s.clients, cfg.setupTimeout()); err != nil {
		c.close()
		return nil, nil, nil, err
	}
	return c, rt, keys, nil
}

func randomKeys(seed uint64, n int) []uint32 {
	rng := rand.New(rand.NewPCG(seed, 0))
	keys := make([]uint32, n)
	for i := range keys {
		keys[i] = rng.Uint32()
	}
	return keys
}

// runMixed: every client reads (linearizable Get) with probability
// readFraction(s.workload) and otherwise writes, both over keys written
// before the window, so that every read finds its key.
func runMixed(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, keys, err := preloaded(ctx, cfg, s, cfg.preloadKeys(readKeys(s.groups)))
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	frac := readFraction(s.workload)
	return runKV(ctx, cfg, s, c, func(i int) clientOp {
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)+2))
		read, write := readOp(rt, cfg.seed, i, keys), writeOp(rt, cfg.seed, i, s.size, keys)
		return func(ctx context.Context) error {
			if rng.Float64() < frac {
				return read(ctx)
			}
			return write(ctx)
		}
	})
}

// scanKeys is how many keys the scan scenario writes first: enough that
// a scan of cfg.scanLimit pairs mostly stays within one or two shards at
// 1,024 shards, within bounds.
func scanKeys(groups int) int { return min(max(64*groups, 4096), 1<<16) }

// runScan: every client scans (Store.Scan, linearizable per shard) up to
// cfg.scanLimit pairs from a random key, over keys written before the
// window. A scan walks shards in key order from the one holding its start.
func runScan(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, _, err := preloaded(ctx, cfg, s, cfg.preloadKeys(scanKeys(s.groups)))
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	res, err := runKV(ctx, cfg, s, c, func(i int) clientOp {
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)+3))
		var start []byte
		return func(ctx context.Context) error {
			k := rng.Uint32()
			start = formatKey(start[:0], k)
			// The scan starts at the node believed to lead the first
			// shard; the store forwards the reads of the others.
			return rt.do(ctx, c.ks.shardOf(k), func(st *shard.Store) error {
				kvs, err := st.Scan(ctx, start, nil, cfg.scanLimit)
				if err == nil && len(kvs) == 0 && k < 0xff000000 {
					return fmt.Errorf("scan from %s found nothing", start)
				}
				return err
			})
		}
	})
	res.Note = fmt.Sprintf("scans of up to %d pairs over %d keys", cfg.scanLimit, cfg.preloadKeys(scanKeys(s.groups)))
	return res, err
}

// readKeys is how many keys the read scenario writes before its clock
// starts: a few per shard, within bounds.
func readKeys(groups int) int { return min(max(8*groups, 4096), 1<<16) }

// runRead: every client does linearizable Gets of keys written before
// the window.
func runRead(ctx context.Context, cfg config, s step) (Result, error) {
	c, rt, keys, err := preloaded(ctx, cfg, s, cfg.preloadKeys(readKeys(s.groups)))
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	return runKV(ctx, cfg, s, c, func(i int) clientOp {
		return readOp(rt, cfg.seed, i, keys)
	})
}

// preload writes keys with size-byte values, parallel at a time.
func preload(ctx context.Context, rt *router, keys []uint32, size, parallel int, limit time.Duration) error {
	val := make([]byte, size)
	return preloadKeys(ctx, keys, parallel, limit, func(ctx context.Context, _ int, k uint32, key []byte) error {
		return rt.do(ctx, rt.c.ks.shardOf(k), func(st *shard.Store) error {
			return st.Put(ctx, key, val)
		})
	})
}

// preloadKeys hands keys to parallel workers, each calling put with its
// number, the key and its formatted form, until the keys are done, a put
// fails (that worker then drains), or limit passes.
func preloadKeys(ctx context.Context, keys []uint32, parallel int, limit time.Duration, put func(ctx context.Context, worker int, k uint32, key []byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	parallel = max(parallel, 1)
	work := make(chan uint32)
	errs := make([]error, parallel)
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			var key []byte
			for k := range work {
				if errs[w] != nil {
					continue // drain after a failure
				}
				key = formatKey(key[:0], k)
				if err := put(ctx, w, k, key); err != nil {
					errs[w] = fmt.Errorf("preloading %s: %w", key, err)
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}
