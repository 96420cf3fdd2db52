package shard

import (
	"bytes"
	"encoding/binary"
)

// The one-byte prefixes of the KV's pebble keys (see the layout on [KV]).
// 0x00 is left unused so that a future prefix can sort before the data.
const (
	kvDataPrefix    byte = 0x01
	kvMetaPrefix    byte = 0x02
	kvSystemPrefix  byte = 0x03
	kvAppliedPrefix byte = 0x04
	kvMetaKeyLen         = 9
)

// keyspace returns the prefix of shard id's data: the meta shard's keys
// live in a key space of their own, apart from every user key.
func keyspace(id ShardID) byte {
	if id == MetaShardID {
		return kvSystemPrefix
	}
	return kvDataPrefix
}

// appendDataKey appends the pebble key of key k in key space p to dst.
func appendDataKey(dst []byte, p byte, k []byte) []byte {
	dst = append(dst, p)
	return append(dst, k...)
}

// dataSpan returns the pebble span [start, end) holding the data of d's
// range.
func dataSpan(d *Descriptor) (start, end []byte) {
	p := keyspace(d.ID)
	start = appendDataKey(make([]byte, 0, 1+len(d.Start)), p, d.Start)
	if len(d.End) == 0 {
		return start, []byte{p + 1}
	}
	return start, appendDataKey(make([]byte, 0, 1+len(d.End)), p, d.End)
}

// metaKey returns the pebble key of shard id's state.
func metaKey(id ShardID) []byte {
	k := make([]byte, kvMetaKeyLen)
	k[0] = kvMetaPrefix
	binary.BigEndian.PutUint64(k[1:], uint64(id))
	return k
}

// appliedKey returns the pebble key of the applied record with sequence
// number seq.
func appliedKey(seq uint64) []byte {
	k := make([]byte, kvMetaKeyLen)
	k[0] = kvAppliedPrefix
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// metaKeyEnd returns the smallest key after metaKey(id) (for exclusive
// upper bounds).
func metaKeyEnd(id ShardID) []byte {
	return append(metaKey(id), 0)
}

// clampSpan intersects the user-key range [start, end) (empty end: +inf)
// with d's range and returns the pebble span to iterate; ok is false when
// the intersection is empty.
func clampSpan(d *Descriptor, start, end []byte) (lo, hi []byte, ok bool) {
	if bytes.Compare(start, d.Start) < 0 {
		start = d.Start
	}
	if len(end) == 0 || (len(d.End) > 0 && bytes.Compare(end, d.End) > 0) {
		end = d.End
	}
	if len(end) > 0 && bytes.Compare(start, end) >= 0 {
		return nil, nil, false
	}
	p := keyspace(d.ID)
	lo = appendDataKey(nil, p, start)
	if len(end) == 0 {
		return lo, []byte{p + 1}, true
	}
	return lo, appendDataKey(nil, p, end), true
}
