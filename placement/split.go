package placement

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/shard"
)

// splitSampleKeys bounds the keys read to pick a split key.
const splitSampleKeys = 10000

// split carries out a MoveSplit. The intent (shard, key, new ID) is
// recorded in the meta shard first; the split itself is one Raft command
// on the shard, which creates the right-hand shard on every replica in
// the same apply; then one meta write records both descriptors and drops
// the intent. A crash between the two leaves the intent and the replicas'
// new descriptors: the next driver pass writes the descriptors from the
// replicas' reports (reconcile) and the resumed intent finds the split
// done (the shard's epoch moved) and only clears itself.
func (n *Node) split(ctx context.Context, m *Move, resumed bool, stage func(string)) error {
	st := n.store
	if !resumed {
		stage("pick key")
		desc, _, ok := n.cache.Shard(m.Shard)
		if !ok {
			return fmt.Errorf("placement: shard %d unknown", m.Shard)
		}
		if len(m.SplitKey) == 0 {
			key, err := n.medianKey(ctx, desc)
			if err != nil {
				return err
			}
			m.SplitKey = key
		}
		t, err := readTable(ctx, st, shard.Linearizable)
		if err != nil {
			return err
		}
		if m.NewShard, err = allocShardID(ctx, st, t); err != nil {
			return err
		}
		if err := n.recordMove(ctx, m); err != nil {
			return err
		}
	}
	stage("split")
	err := n.splitAt(ctx, m)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, n.releaseMove(dctx, m))
}

// splitAt proposes the split at the shard's current epoch and records the
// two descriptors.
func (n *Node) splitAt(ctx context.Context, m *Move) error {
	st := n.store
	p, err := st.ShardProgress(ctx, m.Shard)
	if err != nil {
		return err
	}
	if !p.Desc.Contains(m.SplitKey) || bytes.Equal(p.Desc.Start, m.SplitKey) {
		return nil // done already (or the range moved on): nothing to do
	}
	left, right, err := st.Split(ctx, m.Shard, p.Desc.Epoch, m.SplitKey, m.NewShard)
	if err != nil {
		return err
	}
	var w metaWrite
	w.setShard(shard.ShardState{Desc: left, ConfState: p.Conf})
	w.setShard(shard.ShardState{Desc: right, ConfState: p.Conf})
	return w.commit(ctx, st)
}

// medianKey picks the key in the middle of (up to splitSampleKeys of) the
// shard's keys. NB: for a shard holding more keys than that, this is the
// middle of its first keys, not of the whole range; repeated splits still
// cut the shard down, only more times.
func (n *Node) medianKey(ctx context.Context, d shard.Descriptor) ([]byte, error) {
	kvs, err := n.store.ScanShard(ctx, d.ID, d.Start, d.End, splitSampleKeys, shard.Linearizable)
	if err != nil {
		return nil, err
	}
	if len(kvs) < 2 {
		return nil, fmt.Errorf("placement: shard %d has %d keys: nothing to split", d.ID, len(kvs))
	}
	return kvs[len(kvs)/2].Key, nil
}

// SplitShard splits shard id at key now (an admin request), returning the
// new shard's ID.
func (n *Node) SplitShard(ctx context.Context, id shard.ShardID, key []byte) (shard.ShardID, error) {
	m := Move{Shard: id, Kind: MoveSplit, SplitKey: bytes.Clone(key), Reason: "admin split", Started: time.Now()}
	if err := n.split(ctx, &m, false, func(string) {}); err != nil {
		return 0, err
	}
	return m.NewShard, nil
}
