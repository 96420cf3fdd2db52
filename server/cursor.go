package server

import (
	"strconv"
	"sync"
)

// cursorTable remembers where each SCAN cursor resumes.
//
// Redis clients parse a SCAN cursor as an unsigned decimal integer
// (go-redis, redis-cli --scan), so the cursor cannot carry the next key
// itself. Instead a cursor is a number naming an entry of this table,
// which holds the key the scan resumes at. Cursor 0 starts (and, when
// returned, ends) a scan. The table keeps the newest MaxCursors entries;
// an older or unknown cursor is refused with an error rather than
// silently restarting the scan. Cursors belong to the node that issued
// them and do not survive its restart.
//
// Rejected: encoding the key in the cursor (only keys of up to 8 bytes
// fit in a uint64 and clients reject anything else); an opaque string
// cursor (breaks clients that parse it).
type cursorTable struct {
	mu   sync.Mutex
	max  int
	next uint64
	// keys maps cursor to resume key. Invariant: len(keys) <= max, and
	// order lists the live cursors oldest first.
	keys  map[uint64][]byte
	order []uint64
}

func newCursorTable(max int) *cursorTable {
	return &cursorTable{max: max, next: 1, keys: make(map[uint64][]byte)}
}

// put stores a resume key and returns its cursor (never 0).
func (t *cursorTable) put(key []byte) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.order) >= t.max {
		delete(t.keys, t.order[0])
		t.order = t.order[1:]
	}
	c := t.next
	t.next++
	t.keys[c] = key
	t.order = append(t.order, c)
	return c
}

// get returns the resume key of a cursor ("0" starts at the beginning).
func (t *cursorTable) get(cursor []byte) ([]byte, bool) {
	c, err := strconv.ParseUint(string(cursor), 10, 64)
	if err != nil {
		return nil, false
	}
	if c == 0 {
		return nil, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.keys[c]
	return k, ok
}
