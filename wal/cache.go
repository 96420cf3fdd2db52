package wal

// tailCache keeps a copy of the last bytes written to the active segment,
// so that reads of recent entries (a leader sending what it just appended
// to slow followers, the state machine applying what was just committed)
// need no pread. It is a ring: segment offset o of the cached segment
// lives at buf[o % len(buf)], for o in [lo, hi).
//
// Rejected: a cache of decoded entries keyed by (group, index): it costs
// an allocation and a map entry per entry on the write path, where this
// costs one memcpy per write.
//
// It is guarded by WAL.idx.mu: written under the write lock, read under
// the read lock.
type tailCache struct {
	buf    []byte
	seg    uint32
	lo, hi uint32
}

func (c *tailCache) init(n int) {
	if n > 0 {
		c.buf = make([]byte, n)
	}
}

// reset empties the cache and points it at segment seg.
func (c *tailCache) reset(seg uint32) {
	c.seg, c.lo, c.hi = seg, 0, 0
}

// add records that p was written at offset off of segment seg.
func (c *tailCache) add(seg, off uint32, p []byte) {
	n := uint32(len(c.buf))
	if n == 0 {
		return
	}
	if seg != c.seg || off != c.hi {
		c.seg, c.lo, c.hi = seg, off, off
	}
	if uint32(len(p)) > n {
		skip := uint32(len(p)) - n
		off += skip
		p = p[skip:]
		c.lo, c.hi = off, off
	}
	for len(p) > 0 {
		at := off % n
		k := copy(c.buf[at:], p)
		p = p[k:]
		off += uint32(k)
	}
	c.hi = off
	if c.hi-c.lo > n {
		c.lo = c.hi - n
	}
}

// read appends the size bytes at off of segment seg to dst, if cached.
func (c *tailCache) read(dst []byte, seg, off, size uint32) ([]byte, bool) {
	n := uint32(len(c.buf))
	if n == 0 || seg != c.seg || off < c.lo || off+size > c.hi {
		return dst, false
	}
	for size > 0 {
		at := off % n
		k := min(size, n-at)
		dst = append(dst, c.buf[at:at+k]...)
		off += k
		size -= k
	}
	return dst, true
}
