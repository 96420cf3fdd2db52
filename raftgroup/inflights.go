package raftgroup

import "github.com/flotilladb/flotilla/raftgroup/raftpb"

// inflights tracks the MsgApps sent to one follower and not yet
// acknowledged, so the leader can stop at a window of messages and bytes.
// The ring grows on demand: an idle follower costs no buffer.
//
// Invariant: count <= maxCount; the entries are in ascending index order.
type inflights struct {
	start    int
	count    int
	bytes    uint64
	maxCount int
	maxBytes uint64
	buf      []inflight
}

type inflight struct {
	index raftpb.Index
	bytes uint64
}

func newInflights(maxCount int, maxBytes uint64) inflights {
	return inflights{maxCount: maxCount, maxBytes: maxBytes}
}

// add records a MsgApp whose last entry is index, carrying bytes.
func (in *inflights) add(index raftpb.Index, bytes uint64) {
	if in.full() {
		return // NB: callers check full first; never overrun the ring.
	}
	next := in.start + in.count
	if next >= len(in.buf) {
		next -= len(in.buf)
	}
	if in.count >= len(in.buf) {
		in.grow()
		next = in.start + in.count
	}
	in.buf[next] = inflight{index: index, bytes: bytes}
	in.count++
	in.bytes += bytes
}

func (in *inflights) grow() {
	size := max(4, 2*len(in.buf))
	size = min(size, in.maxCount)
	nb := make([]inflight, size)
	for i := 0; i < in.count; i++ {
		nb[i] = in.buf[(in.start+i)%len(in.buf)]
	}
	in.buf, in.start = nb, 0
}

// freeLE releases every message whose last index is <= to.
func (in *inflights) freeLE(to raftpb.Index) {
	for in.count > 0 && in.buf[in.start].index <= to {
		in.bytes -= in.buf[in.start].bytes
		in.start++
		if in.start == len(in.buf) {
			in.start = 0
		}
		in.count--
	}
	if in.count == 0 {
		in.start = 0
	}
}

func (in *inflights) full() bool {
	return in.count >= in.maxCount || (in.maxBytes != 0 && in.bytes >= in.maxBytes)
}

func (in *inflights) reset() {
	in.start, in.count, in.bytes = 0, 0, 0
	if len(in.buf) > 16 {
		in.buf = nil // release a large ring once the follower is reset
	}
}
