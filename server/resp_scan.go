package server

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/flotilladb/flotilla/shard"
)

// scanArgs are SCAN's options.
type scanArgs struct {
	match    []byte
	count    int
	onlyNone bool // TYPE other than string: nothing matches
}

func (s *Server) parseScan(opts [][]byte) (scanArgs, string) {
	a := scanArgs{count: s.opts.ScanCount}
	for i := 0; i < len(opts); i += 2 {
		if i+1 >= len(opts) {
			return a, "ERR syntax error"
		}
		v := opts[i+1]
		switch strings.ToUpper(string(opts[i])) {
		case "MATCH":
			a.match = v
		case "COUNT":
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 {
				return a, "ERR value is not an integer or out of range"
			}
			a.count = min(n, s.opts.MaxScanCount)
		case "TYPE":
			a.onlyNone = !strings.EqualFold(string(v), "string")
		default:
			return a, "ERR syntax error"
		}
	}
	return a, ""
}

// cmdScan is SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]. It walks
// the ordered key space: each call reads up to COUNT keys from where the
// cursor resumes (see cursorTable), returns those matching the pattern,
// and a cursor for the rest (0 when done). Unlike Redis's hash-table
// SCAN, keys come in order and none is returned twice. A pattern with a
// literal prefix ("user:*") only reads that prefix's range.
func (s *Server) cmdScan(cs *connState, w replier, args [][]byte) {
	from, ok := s.cursors.get(args[1])
	if !ok {
		s.replyError(w, "ERR invalid cursor (unknown, or expired: this node remembers its newest "+strconv.Itoa(s.opts.MaxCursors)+")")
		return
	}
	a, msg := s.parseScan(args[2:])
	if msg != "" {
		s.replyError(w, msg)
		return
	}
	start, end := scanRange(from, a.match)
	var kvs []shard.KeyValue
	var err error
	if !a.onlyNone && (len(end) == 0 || bytes.Compare(start, end) < 0) {
		kvs, err = s.store.Scan(s.reqContext(), start, end, a.count)
	}
	if err != nil {
		s.replyStoreError(w, err)
		return
	}
	next := "0"
	if len(kvs) == a.count {
		last := kvs[len(kvs)-1].Key
		next = strconv.FormatUint(s.cursors.put(append(last[:len(last):len(last)], 0)), 10)
	}
	w.WriteArray(2)
	w.WriteBulkString(next)
	n := 0
	for _, kv := range kvs {
		if a.match == nil || globMatch(a.match, kv.Key) {
			n++
		}
	}
	w.WriteArray(n)
	for _, kv := range kvs {
		if a.match == nil || globMatch(a.match, kv.Key) {
			w.WriteBulk(kv.Key)
		}
	}
}

// scanRange narrows a scan resuming at from to the range a pattern's
// literal prefix allows.
func scanRange(from, pattern []byte) (start, end []byte) {
	prefix := globPrefix(pattern)
	start = from
	if bytes.Compare(prefix, start) > 0 {
		start = prefix
	}
	return start, prefixEnd(prefix)
}

// prefixEnd is the smallest key greater than every key with prefix p
// (nil: no bound).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// dbsizePage is how many keys DBSIZE reads per scan call.
const dbsizePage = 1000

// cmdDBSize counts the keys by scanning the whole key space: O(n) in the
// number of keys (Flotilla keeps no key count per shard yet).
func (s *Server) cmdDBSize(cs *connState, w replier, args [][]byte) {
	n, err := s.countKeys()
	if err != nil {
		s.replyStoreError(w, err)
		return
	}
	w.WriteInt64(n)
}

func (s *Server) countKeys() (int64, error) {
	var n int64
	var start []byte
	for {
		kvs, err := s.store.Scan(s.reqContext(), start, nil, dbsizePage)
		if err != nil {
			return 0, err
		}
		n += int64(len(kvs))
		if len(kvs) < dbsizePage {
			return n, nil
		}
		last := kvs[len(kvs)-1].Key
		start = append(last[:len(last):len(last)], 0)
	}
}
