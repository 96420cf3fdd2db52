package server

import (
	"errors"
	"strconv"
	"strings"

	"github.com/flotilladb/flotilla/shard"
)

func (s *Server) cmdGet(cs *connState, w replier, args [][]byte) {
	if !s.checkKey(w, args[1]) {
		return
	}
	v, found, err := s.store.Get(s.reqContext(), args[1], s.readConsistency())
	switch {
	case err != nil:
		s.replyStoreError(w, err)
	case !found:
		w.WriteNull()
	default:
		w.WriteBulk(v)
	}
}

// readConsistency is the consistency of the read-only commands (see
// Options.LeaseReads).
func (s *Server) readConsistency() shard.Consistency {
	if s.opts.LeaseReads {
		return shard.Lease
	}
	return shard.Linearizable
}

// setArgs are the options of SET key value [NX|XX] [GET].
type setArgs struct {
	nx, xx, get bool
}

// parseSet reads SET's options. Expiry options are refused: Flotilla
// keys do not expire.
func parseSet(opts [][]byte) (setArgs, string) {
	var a setArgs
	for _, o := range opts {
		switch up := strings.ToUpper(string(o)); up {
		case "NX":
			a.nx = true
		case "XX":
			a.xx = true
		case "GET":
			a.get = true
		case "EX", "PX", "EXAT", "PXAT", "KEEPTTL":
			return a, "ERR SET option " + up + " is not supported: Flotilla keys do not expire"
		default:
			return a, "ERR syntax error"
		}
	}
	if a.nx && a.xx {
		return a, "ERR syntax error"
	}
	return a, ""
}

func (s *Server) cmdSet(cs *connState, w replier, args [][]byte) {
	key, val := args[1], args[2]
	a, msg := parseSet(args[3:])
	if msg != "" {
		s.replyError(w, msg)
		return
	}
	if !s.checkKey(w, key) || !s.checkValue(w, val) {
		return
	}
	var prev []byte
	var applied, hadPrev bool
	var err error
	switch {
	case a.xx:
		prev, applied, err = s.setIfExists(key, val)
		hadPrev = applied
	case a.nx:
		prev, hadPrev, applied, err = s.setIfAbsent(key, val)
	default:
		var res shard.Result
		res, err = s.store.Exec(s.reqContext(), shard.Command{Ops: []shard.Op{{Kind: shard.OpPut, Key: key, Value: val}}, ReturnPrev: a.get})
		applied = err == nil
		if err == nil && a.get && len(res.Prev) == 1 {
			prev, hadPrev = res.Prev[0], res.PrevExists[0]
		}
	}
	switch {
	case err != nil:
		s.replyStoreError(w, err)
	case a.get && hadPrev:
		w.WriteBulk(prev)
	case a.get, !applied:
		w.WriteNull()
	default:
		w.WriteString("OK")
	}
}

// setIfAbsent is SET NX: a write conditioned on the key's absence. On a
// failed condition it reports the value the key holds.
func (s *Server) setIfAbsent(key, val []byte) (prev []byte, hadPrev, applied bool, err error) {
	_, err = s.store.Exec(s.reqContext(), shard.Command{
		Conds: []shard.Cond{{Key: key}},
		Ops:   []shard.Op{{Kind: shard.OpPut, Key: key, Value: val}}})
	var cf *shard.CondFailedError
	if errors.As(err, &cf) {
		return cf.Current, cf.Exists, false, nil
	}
	return nil, false, err == nil, err
}

// maxXXRounds bounds SET XX's compare-and-swap loop under contention.
const maxXXRounds = 32

// setIfExists is SET XX. The state machine's conditions compare exact
// values, so it reads the current value and writes conditioned on it; a
// concurrent change makes the condition fail with the newer value, and it
// tries again with that. The write applies only if the key exists at the
// moment it is applied.
func (s *Server) setIfExists(key, val []byte) (prev []byte, applied bool, err error) {
	cur, found, err := s.store.Get(s.reqContext(), key)
	for range maxXXRounds {
		if err != nil || !found {
			return nil, false, err
		}
		_, err = s.store.Exec(s.reqContext(), shard.Command{
			Conds: []shard.Cond{{Key: key, Value: cur, Exists: true}},
			Ops:   []shard.Op{{Kind: shard.OpPut, Key: key, Value: val}}})
		var cf *shard.CondFailedError
		if !errors.As(err, &cf) {
			return cur, err == nil, err
		}
		cur, found, err = cf.Current, cf.Exists, nil
	}
	return nil, false, errors.New("server: SET XX: the key kept changing, gave up")
}

// cmdDel deletes each key on its own, several at a time (keys of several
// shards are not deleted atomically), and counts those that existed.
func (s *Server) cmdDel(cs *connState, w replier, args [][]byte) {
	keys := args[1:]
	existed := make([]bool, len(keys))
	err := fanOut(len(keys), func(i int) error {
		res, err := s.store.Exec(s.reqContext(), shard.Command{Ops: []shard.Op{{Kind: shard.OpDelete, Key: keys[i]}}, ReturnPrev: true})
		existed[i] = err == nil && len(res.PrevExists) == 1 && res.PrevExists[0]
		return err
	})
	if err != nil {
		s.replyStoreError(w, err)
		return
	}
	w.WriteInt(countTrue(existed))
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func (s *Server) cmdExists(cs *connState, w replier, args [][]byte) {
	keys := args[1:]
	found := make([]bool, len(keys))
	err := fanOut(len(keys), func(i int) error {
		var err error
		_, found[i], err = s.store.Get(s.reqContext(), keys[i], s.readConsistency())
		return err
	})
	if err != nil {
		s.replyStoreError(w, err)
		return
	}
	w.WriteInt(countTrue(found))
}

// cmdMGet reads the keys with one shard.Store.GetMany: the keys of each
// shard at one moment (a batch or single-shard MSET is seen whole or not
// at all), the shards in parallel, not at one moment across shards. At
// most shard.MaxGetManyKeys keys: the guarantee would not survive
// splitting a larger MGET, so it is refused instead.
func (s *Server) cmdMGet(cs *connState, w replier, args [][]byte) {
	keys := args[1:]
	if len(keys) > shard.MaxGetManyKeys {
		s.replyError(w, "ERR MGET of "+strconv.Itoa(len(keys))+" keys: at most "+strconv.Itoa(shard.MaxGetManyKeys)+" per command; split it")
		return
	}
	for _, k := range keys {
		if !s.checkKey(w, k) {
			return
		}
	}
	vals, found, err := s.store.GetMany(s.reqContext(), keys, s.readConsistency())
	if err != nil {
		s.replyStoreError(w, err)
		return
	}
	w.WriteArray(len(vals))
	for i, v := range vals {
		if !found[i] {
			w.WriteNull()
			continue
		}
		w.WriteBulk(v)
	}
}

// cmdMSet writes the pairs of each shard in one atomic command, the
// shards' commands at the same time. MSET across shards is therefore not
// atomic: an error part way leaves some shards' pairs written.
func (s *Server) cmdMSet(cs *connState, w replier, args [][]byte) {
	if len(args)%2 != 1 {
		s.replyError(w, "ERR wrong number of arguments for 'mset' command")
		return
	}
	ops := make([]shard.Op, 0, len(args)/2)
	for i := 1; i < len(args); i += 2 {
		if !s.checkKey(w, args[i]) || !s.checkValue(w, args[i+1]) {
			return
		}
		ops = append(ops, shard.Op{Kind: shard.OpPut, Key: args[i], Value: args[i+1]})
	}
	if err := s.execByShard(ops, 0); err != nil {
		s.replyStoreError(w, err)
		return
	}
	w.WriteString("OK")
}

// maxRegroups bounds how often execByShard groups a group's ops again
// after a shard boundary moved under it.
const maxRegroups = 3

// execByShard runs ops as one atomic Command per shard, the shards at the
// same time. A group that fails with ErrCrossShard (a split moved a
// boundary after the grouping) is grouped again by the routing then, so
// each shard's ops stay one atomic Command; after maxRegroups the error
// goes to the client. NB: it used to fall back to one Put per key there,
// which quietly broke MSET's atomicity within a shard.
func (s *Server) execByShard(ops []shard.Op, depth int) error {
	groups := groupByShard(s.store.ShardFor, ops)
	return fanOut(len(groups), func(i int) error {
		_, err := s.store.Exec(s.reqContext(), shard.Command{Ops: groups[i]})
		if errors.Is(err, shard.ErrCrossShard) && depth < maxRegroups {
			return s.execByShard(groups[i], depth+1)
		}
		return err
	})
}

func (s *Server) cmdIncr(cs *connState, w replier, args [][]byte) { s.incr(w, args[1], 1) }
func (s *Server) cmdDecr(cs *connState, w replier, args [][]byte) { s.incr(w, args[1], -1) }

func (s *Server) cmdIncrBy(cs *connState, w replier, args [][]byte) {
	if d, ok := s.parseDelta(w, args[2], false); ok {
		s.incr(w, args[1], d)
	}
}

func (s *Server) cmdDecrBy(cs *connState, w replier, args [][]byte) {
	if d, ok := s.parseDelta(w, args[2], true); ok {
		s.incr(w, args[1], -d)
	}
}

func (s *Server) parseDelta(w replier, b []byte, negate bool) (int64, bool) {
	d, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || (negate && d == -1<<63) {
		s.replyError(w, "ERR value is not an integer or out of range")
		return 0, false
	}
	return d, true
}

// incr adds delta to the integer at key inside the key's shard: the read,
// the addition and the write are one applied command, so concurrent
// increments never lose an update.
func (s *Server) incr(w replier, key []byte, delta int64) {
	if !s.checkKey(w, key) {
		return
	}
	res, err := s.store.Exec(s.reqContext(), shard.Command{Ops: []shard.Op{
		{Kind: shard.OpIncr, Key: key, Value: strconv.AppendInt(nil, delta, 10)}}})
	switch {
	case res.Status == shard.StatusNotInteger:
		s.replyError(w, "ERR value is not an integer or out of range")
	case res.Status == shard.StatusOverflow:
		s.replyError(w, "ERR increment or decrement would overflow")
	case err != nil:
		s.replyStoreError(w, err)
	case len(res.Values) != 1:
		s.replyError(w, "ERR internal: increment returned no value")
	default:
		n, perr := strconv.ParseInt(string(res.Values[0]), 10, 64)
		if perr != nil {
			s.replyError(w, "ERR internal: increment returned "+strconv.Quote(string(res.Values[0])))
			return
		}
		w.WriteInt64(n)
	}
}

// checkKey refuses empty and oversized keys.
func (s *Server) checkKey(w replier, key []byte) bool {
	if len(key) > s.opts.MaxKeyBytes {
		s.replyError(w, "ERR key too large: "+strconv.Itoa(len(key))+" bytes (max "+strconv.Itoa(s.opts.MaxKeyBytes)+")")
		return false
	}
	return true
}

func (s *Server) checkValue(w replier, val []byte) bool {
	if len(val) > s.opts.MaxValueBytes {
		s.replyError(w, "ERR value too large: "+strconv.Itoa(len(val))+" bytes (max "+strconv.Itoa(s.opts.MaxValueBytes)+")")
		return false
	}
	return true
}
