package shard

import (
	"context"
	"errors"
	"fmt"
)

// Querier is implemented by a custom StateMachine that answers reads. The
// store calls Query after the read barrier of the requested consistency,
// from the client's goroutine, concurrently with applies.
type Querier interface {
	Query(id ShardID, query []byte) ([]byte, error)
}

// Propose replicates an opaque command for the shard that owns key and
// returns what the state machine's Apply returned for it, once applied.
// With the default key-value state machine use Put, Exec and friends; the
// command must then be an encoded Command.
func (s *Store) Propose(ctx context.Context, key, cmd []byte) ([]byte, error) {
	d, err := s.route(key)
	if err != nil {
		return nil, err
	}
	if len(cmd) == 0 {
		return nil, errors.New("shard: empty command")
	}
	if len(cmd) > s.opts.MaxProposalBytes {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(cmd), s.opts.MaxProposalBytes)
	}
	return s.propose(ctx, d, cmd)
}

// Query reads from a custom state machine (which must implement Querier)
// the shard that owns key, at the given consistency (default
// Linearizable).
func (s *Store) Query(ctx context.Context, key, query []byte, c ...Consistency) ([]byte, error) {
	q, ok := s.sm.(Querier)
	if !ok {
		return nil, errors.New("shard: the state machine does not implement Querier")
	}
	d, err := s.route(key)
	if err != nil {
		return nil, err
	}
	if d.r == nil {
		return nil, fmt.Errorf("%w: queries of a custom state machine are served only where the shard lives (shard %d)", ErrNoShard, d.id)
	}
	if err := s.readBarrier(ctx, d.r, consistency(c)); err != nil {
		return nil, err
	}
	return q.Query(d.id, query)
}
