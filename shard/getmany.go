package shard

import (
	"context"
	"fmt"
	"sync"
)

// MaxGetManyKeys bounds the keys of one GetMany call, and so of the one
// forwarded request that carries a shard's keys to its leader: a bound on
// what one call makes a node hold and a peer decode.
const MaxGetManyKeys = 4096

// maxGetManyParallel bounds the shards one GetMany reads at a time.
const maxGetManyParallel = 16

// GetMany returns the values of keys, in order (found[i] false: keys[i]
// is absent). Consistency defaults to Linearizable.
//
// The keys of one shard are read together: after one read barrier, from
// one view of the state machine, so a multi-key command of that shard
// (an Exec batch) is seen whole or not at all. Keys of different shards
// are read in parallel, each shard at its own moment: like Exec, GetMany
// is atomic within a shard and not across shards. A shard led by another
// node is read there, its keys carried in one forwarded request.
//
// At most MaxGetManyKeys keys: more fail with ErrTooManyKeys and nothing
// is read. On any error no values are returned.
func (s *Store) GetMany(ctx context.Context, keys [][]byte, c ...Consistency) (vals [][]byte, found []bool, err error) {
	if len(keys) > MaxGetManyKeys {
		return nil, nil, fmt.Errorf("%w: %d keys (max %d)", ErrTooManyKeys, len(keys), MaxGetManyKeys)
	}
	if err := s.usable(); err != nil {
		return nil, nil, err
	}
	vals, found = make([][]byte, len(keys)), make([]bool, len(keys))
	todo := make([]int, len(keys))
	for i := range todo {
		todo[i] = i
	}
	cons := consistency(c)
	// A retry (a shard split or moved, a leader changed) reads again only
	// the shards whose read failed, each again as a whole.
	err = s.retryMoved(ctx, func(ctx context.Context) error {
		var err error
		todo, err = s.getMany(ctx, keys, todo, vals, found, cons)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return vals, found, nil
}

// keyGroup is the keys of one GetMany (by index) that route to one shard.
type keyGroup struct {
	d   dest
	idx []int
}

// getMany reads keys[i] for each i in todo into vals and found, one read
// per shard, the shards in parallel. It returns the indexes still to read
// (those of the shards whose read failed) and an error: the first one
// that retrying cannot mend, else the first.
func (s *Store) getMany(ctx context.Context, keys [][]byte, todo []int, vals [][]byte, found []bool, c Consistency) ([]int, error) {
	groups, err := s.groupKeys(keys, todo)
	if err != nil {
		return todo, err
	}
	errs := make([]error, len(groups))
	read := func(g *keyGroup) error {
		ks := make([][]byte, len(g.idx))
		for j, i := range g.idx {
			ks[j] = keys[i]
		}
		vs, fs, err := s.readShardKeys(ctx, g.d, ks, c)
		if err != nil {
			return err
		}
		for j, i := range g.idx { // groups hold disjoint indexes
			vals[i], found[i] = vs[j], fs[j]
		}
		return nil
	}
	if len(groups) == 1 {
		errs[0] = read(&groups[0])
	} else {
		sem := make(chan struct{}, maxGetManyParallel)
		var wg sync.WaitGroup
		for gi := range groups {
			sem <- struct{}{}
			wg.Go(func() {
				errs[gi] = read(&groups[gi])
				<-sem
			})
		}
		wg.Wait()
	}
	var left []int
	var first, fatal error
	for gi, err := range errs {
		if err == nil {
			continue
		}
		left = append(left, groups[gi].idx...)
		first = orErr(first, err)
		if !s.retryable(err) {
			fatal = orErr(fatal, err)
		}
	}
	return left, orErr(fatal, first)
}

// orErr returns a if it is not nil, else b.
func orErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// groupKeys groups the keys named by todo by the shard they route to, in
// order of first appearance.
func (s *Store) groupKeys(keys [][]byte, todo []int) ([]keyGroup, error) {
	var groups []keyGroup
	at := map[ShardID]int{}
	for _, i := range todo {
		d, err := s.route(keys[i])
		if err != nil {
			return nil, err
		}
		gi, ok := at[d.id]
		if !ok {
			gi = len(groups)
			at[d.id] = gi
			groups = append(groups, keyGroup{d: d})
		}
		groups[gi].idx = append(groups[gi].idx, i)
	}
	return groups, nil
}

// readShardKeys reads keys, all of shard d, at one moment: here if this
// node leads the shard, else in one request forwarded to its leader.
func (s *Store) readShardKeys(ctx context.Context, d dest, keys [][]byte, c Consistency) ([][]byte, []bool, error) {
	req := forwardRequest{kind: fwdReadMany, consistency: c, shard: d.id, parts: keys}
	var vals [][]byte
	var found []bool
	ans, forwarded, err := s.localOrForward(ctx, d, req, func() (err error) {
		vals, found, err = s.getManyLocal(ctx, d.r, keys, c)
		return err
	})
	if !forwarded {
		return vals, found, err
	}
	if err != nil {
		return nil, nil, err
	}
	return decodeValues(ans, len(keys))
}

// getManyLocal reads keys of r's shard from this node's state machine
// after one read barrier of consistency c.
func (s *Store) getManyLocal(ctx context.Context, r *replica, keys [][]byte, c Consistency) ([][]byte, []bool, error) {
	kv, err := s.localReadKV(ctx, r, c)
	if err != nil {
		return nil, nil, err
	}
	vals, found, err := kv.GetMany(r.id, keys)
	return vals, found, movedIfOutOfRange(err)
}
