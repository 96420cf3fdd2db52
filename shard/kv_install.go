package shard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Install replaces shard st.Desc.ID's data and state with the snapshot
// stream read from r, and records st.
//
// The stream is written to a staged sstable as it arrives (bounded
// memory), with st's state key in a second one; only once the checksum
// has been verified are both ingested with IngestAndExcise over the
// shard's data span. Pebble applies that as one version edit: the old
// range disappears and the new data and state appear together, and a
// crash leaves either the old shard or the new one, never a mix. A stream
// that is truncated, corrupt, holds keys out of order or outside st's
// range, or whose embedded state does not name st's shard, ID, index and
// term, fails with ErrBadSnapshot and changes nothing.
//
// NB: the excise covers st's range. A shard whose range changed since
// its old state (not possible before splits and merges exist) would keep
// its old data outside the new range.
func (kv *KV) Install(ctx context.Context, st ShardState, r io.Reader) error {
	if err := kv.enter(); err != nil {
		return err
	}
	defer kv.life.RUnlock()
	sg := &snapshotStager{kv: kv, st: st, in: newSnapStreamReader(r)}
	defer sg.removeFiles()
	if err := sg.run(ctx); err != nil {
		return fmt.Errorf("shard: install snapshot of shard %d: %w", st.Desc.ID, err)
	}
	lo, hi := dataSpan(&st.Desc)
	if _, err := kv.db.IngestAndExcise(ctx, sg.paths, nil, nil, pebble.KeyRange{Start: lo, End: hi}); err != nil {
		return fmt.Errorf("shard: install snapshot of shard %d: ingest: %w", st.Desc.ID, err)
	}
	kv.setDescs(map[ShardID]ShardState{st.Desc.ID: st})
	kv.logger.Info("shard: snapshot installed", "shard", st.Desc.ID, "applied", st.Applied, "pairs", sg.n)
	return nil
}

// DeleteShard removes shard id's data and state, as when its replica
// leaves this node. Like Install it is one ingest: an excise of the data
// span together with a staged sstable holding a tombstone for the state
// key, so a crash cannot leave state without data or data without state.
func (kv *KV) DeleteShard(ctx context.Context, id ShardID) error {
	if err := kv.enter(); err != nil {
		return err
	}
	defer kv.life.RUnlock()
	d, ok := kv.desc(id)
	if !ok {
		return fmt.Errorf("%w: shard %d", ErrShardNotHosted, id)
	}
	// NB: fold first, so that no applied record of the shard survives its
	// state key: a shard created again under this ID must not inherit an
	// old applied index.
	kv.fold.Lock()
	defer kv.fold.Unlock()
	if err := kv.foldApplied(); err != nil {
		return fmt.Errorf("shard: delete shard %d: %w", id, err)
	}
	sg := &snapshotStager{kv: kv}
	defer sg.removeFiles()
	err := sg.writeTable(func(w *sstable.Writer) error { return w.Delete(metaKey(id)) })
	if err != nil {
		return fmt.Errorf("shard: delete shard %d: %w", id, err)
	}
	lo, hi := dataSpan(&d)
	if _, err := kv.db.IngestAndExcise(ctx, sg.paths, nil, nil, pebble.KeyRange{Start: lo, End: hi}); err != nil {
		return fmt.Errorf("shard: delete shard %d: %w", id, err)
	}
	kv.mu.Lock()
	delete(kv.mu.descs, id)
	kv.mu.Unlock()
	kv.logger.Info("shard: shard data deleted", "shard", id)
	return nil
}

// snapshotStager reads a snapshot stream into staged sstables.
type snapshotStager struct {
	kv    *KV
	st    ShardState
	in    *snapStreamReader
	paths []string
	// data receives the pairs; opened at the first pair, so an empty
	// shard stages only its state table.
	data *sstable.Writer
	key  []byte // the last key written (user key)
	val  []byte
	n    uint64
}

// run reads and checks the whole stream and stages the tables.
func (sg *snapshotStager) run(ctx context.Context) error {
	if err := sg.header(); err != nil {
		return err
	}
	if err := sg.pairs(ctx); err != nil {
		return err
	}
	if err := sg.in.trailer(sg.n); err != nil {
		return err
	}
	if sg.data != nil {
		w := sg.data
		sg.data = nil
		if err := w.Close(); err != nil {
			return err
		}
	}
	state := MarshalShardState(sg.st)
	return sg.writeTable(func(w *sstable.Writer) error { return w.Set(metaKey(sg.st.Desc.ID), state) })
}

// header reads the magic, version and embedded state, and checks the
// state against the one being installed.
func (sg *snapshotStager) header() error {
	head, err := sg.in.fill(nil, len(snapMagic)+1, "header")
	if err != nil {
		return err
	}
	if string(head[:len(snapMagic)]) != snapMagic || head[len(snapMagic)] != snapVersion {
		return fmt.Errorf("%w: bad header %q", ErrBadSnapshot, head)
	}
	raw, err := sg.in.field(nil, maxSnapState, "state")
	if err != nil {
		return err
	}
	got, err := UnmarshalShardState(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	if got.Desc.ID != sg.st.Desc.ID || got.Applied != sg.st.Applied || got.AppliedTerm != sg.st.AppliedTerm {
		return fmt.Errorf("%w: stream holds shard %d at %d/%d, installing shard %d at %d/%d", ErrBadSnapshot,
			got.Desc.ID, got.Applied, got.AppliedTerm, sg.st.Desc.ID, sg.st.Applied, sg.st.AppliedTerm)
	}
	return nil
}

// pairs reads key/value pairs up to the end tag into the data table.
func (sg *snapshotStager) pairs(ctx context.Context) error {
	var prev []byte
	for {
		if sg.n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tag, err := sg.in.ReadByte()
		if err != nil {
			return err
		}
		if tag == snapTagEnd {
			return nil
		}
		if tag != snapTagPair {
			return fmt.Errorf("%w: tag %d after %d pairs", ErrBadSnapshot, tag, sg.n)
		}
		prev = append(prev[:0], sg.key...)
		if sg.key, err = sg.in.field(sg.key, maxSnapKeyBytes, "key"); err != nil {
			return err
		}
		if sg.val, err = sg.in.field(sg.val, maxSnapValBytes, "value"); err != nil {
			return err
		}
		if err := sg.add(prev); err != nil {
			return err
		}
	}
}

// add checks the pair just read (after prev) and writes it.
func (sg *snapshotStager) add(prev []byte) error {
	if !sg.st.Desc.Contains(sg.key) {
		return fmt.Errorf("%w: key %q outside %v", ErrBadSnapshot, sg.key, sg.st.Desc)
	}
	if sg.n > 0 && bytes.Compare(prev, sg.key) >= 0 {
		return fmt.Errorf("%w: key %q does not follow %q", ErrBadSnapshot, sg.key, prev)
	}
	if sg.data == nil {
		w, err := sg.newTable()
		if err != nil {
			return err
		}
		sg.data = w
	}
	sg.n++
	return sg.data.Set(appendDataKey(make([]byte, 0, 1+len(sg.key)), keyspace(sg.st.Desc.ID), sg.key), sg.val)
}

// newTable creates a staged sstable writer.
func (sg *snapshotStager) newTable() (*sstable.Writer, error) {
	kv := sg.kv
	path := kv.fs.PathJoin(kv.ingestDir, fmt.Sprintf("%06d.sst", kv.ingestSeq.Add(1)))
	f, err := kv.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	sg.paths = append(sg.paths, path)
	opts := kv.popts.MakeWriterOptions(0, kv.db.TableFormat())
	return sstable.NewWriter(objstorageprovider.NewFileWritable(f), opts), nil
}

// writeTable stages a table holding what fill writes.
func (sg *snapshotStager) writeTable(fill func(*sstable.Writer) error) error {
	w, err := sg.newTable()
	if err != nil {
		return err
	}
	return errors.Join(fill(w), w.Close())
}

// removeFiles closes an unfinished table and removes the staged files
// (ingest has already moved them away if it succeeded).
func (sg *snapshotStager) removeFiles() {
	if sg.data != nil {
		_ = sg.data.Close()
	}
	for _, p := range sg.paths {
		_ = sg.kv.fs.Remove(p)
	}
}
