// Package raftpb holds the value types that cross the boundary of the Raft
// core: log entries, hard state, messages, membership (ConfState and
// ConfChange) and snapshot metadata.
//
// It exists so that the write-ahead log (wal) and the transport can depend
// on the shapes of Raft data without importing the protocol itself. The
// package holds types, small pure helpers on them and the binary encoding of
// ConfChange (which travels inside entry payloads and so must be readable by
// every replica). It must never import anything of Flotilla's, perform I/O,
// or hold state.
//
// Wire and disk encodings of Message and Entry are owned by their users
// (transport and wal): each picks the layout that suits its medium.
package raftpb
