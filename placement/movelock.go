package placement

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/shard"
)

// A membership move's record in the meta shard is its shard's lock, and
// more: it names the one move that may change the shard's membership.
//
// The same move can run more than once at a time. The driver resumes
// every recorded move it is not running itself (a new meta leader takes
// over its predecessor's moves; a record whose final delete failed must
// not lock its shard for good), and it cannot tell a record whose run
// died from one whose run is alive elsewhere: an admin's MoveShard on
// another node, or the previous meta leader's driver, still at work. Two
// runs of one move are harmless while the record stands: they aim at the
// same membership and every change is fenced by the shard's epoch. The
// harm came after: the first run to finish deleted the record, the next
// move of the shard recorded itself and added its learner, and the other
// run, still going, read that membership as its own unfinished move
// (its target a voter, its source still a member) and removed the
// learner as a lingering source. The new move added it back, the stale
// run removed it again: the learner's node installed a snapshot, applied
// its removal and was added again, until a deadline ended one of them
// (TestMoveAwayAndBack, TestStaleRunOfAMove).
//
// So a run acts (changes membership, prepares a replica, moves
// leadership) only after checking, past the shard progress it acts on,
// that the record is still its own, byte for byte; and it deletes the
// record only if it is. The check is a linearizable read made after the
// progress was read, and a membership change names the epoch of that
// progress: a move that recorded itself after the check changes the
// epoch before it changes anything, and the stale run's change then
// fails on the epoch.

// ErrMoveSuperseded: a run of a move stopped because the move's record
// in the meta shard was removed or replaced (another run of the same
// move finished it, or gave up, and a newer move may hold the shard).
// The shard's membership is whatever the other run left: plan again
// from it.
var ErrMoveSuperseded = errors.New("placement: the move's record was removed or replaced")

// maxMetaAttempts bounds how often a meta write is proposed again after
// its proposal was dropped.
const maxMetaAttempts = 5

// execMeta runs cmd on the meta shard and runs it again when its
// proposal was dropped: the meta shard's leader changed under it, and
// shard.ErrProposalDropped promises it was not applied. A move's record
// and its delete would otherwise fail on every meta election (under
// load, often), failing a move that had nothing wrong with it.
func execMeta(ctx context.Context, st *shard.Store, cmd shard.Command) (shard.Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := st.ExecShard(ctx, shard.MetaShardID, cmd)
		if !errors.Is(err, shard.ErrProposalDropped) || attempt == maxMetaAttempts {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// recordMove writes m to the meta shard if no move of its shard is
// there. It sets m.Started if unset: the record must match m exactly
// (ownsMove).
func (n *Node) recordMove(ctx context.Context, m *Move) error {
	if m.Started.IsZero() {
		m.Started = time.Now()
	}
	key := idKey(prefixMove, uint64(m.Shard))
	_, err := execMeta(ctx, n.store, shard.Command{
		Conds: []shard.Cond{{Key: key}},
		Ops: []shard.Op{{Kind: shard.OpPut, Key: key, Value: m.marshal()},
			{Kind: shard.OpIncr, Key: []byte(keyVersion), Value: []byte("1")}},
	})
	if errors.Is(err, shard.ErrCondFailed) {
		return fmt.Errorf("%w (shard %d)", ErrMoveInFlight, m.Shard)
	}
	return err
}

// ownsMove reports whether the meta shard still records m as its shard's
// move (read linearizably). An error means it could not tell.
func (n *Node) ownsMove(ctx context.Context, m *Move) (bool, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	key := idKey(prefixMove, uint64(m.Shard))
	kvs, err := n.store.ScanShard(rctx, shard.MetaShardID, key, append(key, 0), 1, shard.Linearizable)
	if err != nil {
		return false, err
	}
	return len(kvs) == 1 && bytes.Equal(kvs[0].Value, m.marshal()), nil
}

// releaseMove deletes m's record if it is still m's; a record that is
// gone or another move's is left alone.
func (n *Node) releaseMove(ctx context.Context, m *Move) error {
	key := idKey(prefixMove, uint64(m.Shard))
	_, err := execMeta(ctx, n.store, shard.Command{
		Conds: []shard.Cond{{Key: key, Value: m.marshal(), Exists: true}},
		Ops: []shard.Op{{Kind: shard.OpDelete, Key: key},
			{Kind: shard.OpIncr, Key: []byte(keyVersion), Value: []byte("1")}},
	})
	if errors.Is(err, shard.ErrCondFailed) {
		return nil
	}
	return err
}
