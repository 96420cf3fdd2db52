package main

import (
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// kvSM is the benchmark's state machine: an in-memory map from key to
// value, one per replica, as dragonboat's IStateMachine (dragonboat
// serializes Update, Lookup and snapshots of one replica, so it needs no
// lock of its own). A command is a 4-byte key length, the key, then the
// value.
type kvSM struct {
	data    map[string][]byte
	applied *atomic.Uint64 // shared by every replica of the process
}

var _ sm.IStateMachine = (*kvSM)(nil)

func encodePut(dst, key, val []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst[:0], uint32(len(key)))
	dst = append(dst, key...)
	return append(dst, val...)
}

var errBadCommand = errors.New("malformed command")

// Update applies one put.
func (s *kvSM) Update(e sm.Entry) (sm.Result, error) {
	if len(e.Cmd) < 4 {
		return sm.Result{}, errBadCommand
	}
	n := int(binary.BigEndian.Uint32(e.Cmd))
	if len(e.Cmd) < 4+n {
		return sm.Result{}, errBadCommand
	}
	// The entry's buffer belongs to dragonboat: keep copies.
	s.data[string(e.Cmd[4:4+n])] = append([]byte(nil), e.Cmd[4+n:]...)
	s.applied.Add(1)
	return sm.Result{Value: 1}, nil
}

// lookupResult is what Lookup returns for a key.
type lookupResult struct {
	val   []byte
	found bool
}

// Lookup reads one key; the query is the key as a string.
func (s *kvSM) Lookup(q any) (any, error) {
	k, ok := q.(string)
	if !ok {
		return nil, errBadCommand
	}
	v, found := s.data[k]
	return lookupResult{val: v, found: found}, nil
}

// SaveSnapshot writes every pair, length-prefixed. The benchmark never
// asks for snapshots (SnapshotEntries is 0), but the interface needs one.
func (s *kvSM) SaveSnapshot(w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	var hdr []byte
	for k, v := range s.data {
		hdr = binary.BigEndian.AppendUint32(hdr[:0], uint32(len(k)))
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(v)))
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		if _, err := io.WriteString(w, k); err != nil {
			return err
		}
		if _, err := w.Write(v); err != nil {
			return err
		}
	}
	return nil
}

// RecoverFromSnapshot reads what SaveSnapshot wrote.
func (s *kvSM) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	data := make(map[string][]byte)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		kv := make([]byte, binary.BigEndian.Uint32(hdr[:4])+binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.ReadFull(r, kv); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		data[string(kv[:n])] = kv[n:]
	}
	s.data = data
	return nil
}

func (s *kvSM) Close() error { return nil }
