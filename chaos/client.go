package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Conns holds one connection to each node's RESP port, for one
// sequential client. Not safe for concurrent use.
type Conns struct {
	byNode map[int]*redis.Client
}

// Client timeouts: a reply slower than replyTimeout leaves a write's
// outcome unknown (the node may still apply it).
const (
	dialTimeout  = 300 * time.Millisecond
	replyTimeout = 2 * time.Second
)

// NewConns makes (lazily dialled) clients for the nodes.
func NewConns(nodes []*Node) *Conns {
	cs := &Conns{byNode: map[int]*redis.Client{}}
	for _, n := range nodes {
		cs.byNode[n.Spec.ID] = redis.NewClient(&redis.Options{
			Addr: n.Spec.ClientAddr, Protocol: 2, DisableIdentity: true,
			// No retries inside the library: a retried INCR or SET is a
			// second operation the history would not show.
			MaxRetries: -1, PoolSize: 1, MinIdleConns: 0, DialerRetries: 1,
			DialTimeout: dialTimeout, ReadTimeout: replyTimeout, WriteTimeout: replyTimeout,
			PoolTimeout: replyTimeout,
		})
	}
	return cs
}

// Close closes every connection.
func (cs *Conns) Close() {
	for _, c := range cs.byNode {
		_ = c.Close()
	}
}

// outcome classifies a failed call.
type outcome uint8

const (
	// notDone: the command certainly had no effect (never sent, or the
	// server said TRYAGAIN or not leader); it may be retried.
	notDone outcome = iota
	// maybeDone: the command may or may not have taken effect.
	maybeDone
)

// classify tells whether err leaves the command undone for certain.
func classify(err error) outcome {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return notDone
	}
	if errors.Is(err, redis.ErrPoolTimeout) {
		return notDone
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "TRYAGAIN") || strings.HasPrefix(msg, "ERR not leader") {
		return notDone
	}
	return maybeDone
}

// Call sends in to node id and returns its output, or an error that
// classify explains. A nil reply is Value "".
func (cs *Conns) Call(ctx context.Context, id int, in Input) (Output, error) {
	c := cs.byNode[id]
	switch in.Kind {
	case OpGet:
		v, err := c.Get(ctx, in.Key).Result()
		return bulk(v, err)
	case OpSet, OpSetNX, OpSetXX:
		args := []any{"set", in.Key, in.Value}
		if in.Kind == OpSetNX {
			args = append(args, "nx")
		} else if in.Kind == OpSetXX {
			args = append(args, "xx")
		}
		if in.Get {
			args = append(args, "get")
		}
		res, err := c.Do(ctx, args...).Result()
		if errors.Is(err, redis.Nil) {
			return Output{}, nil // GET: no old value; NX or XX without GET: not written
		}
		if err != nil {
			return Output{}, err
		}
		if in.Get {
			s, ok := res.(string)
			if !ok {
				return Output{}, fmt.Errorf("chaos: SET GET replied %v (%T)", res, res)
			}
			return Output{Value: s}, nil
		}
		return Output{Applied: true}, nil
	case OpDel:
		n, err := c.Del(ctx, in.Key).Result()
		return Output{Applied: n == 1}, err
	case OpIncr:
		n, err := c.Incr(ctx, in.Key).Result()
		if err != nil && strings.Contains(err.Error(), "not an integer") {
			return Output{NotInteger: true}, nil
		}
		if err != nil {
			return Output{}, err
		}
		return Output{Value: strconv.FormatInt(n, 10)}, nil
	}
	return Output{}, errors.New("chaos: unknown operation")
}

func bulk(v string, err error) (Output, error) {
	if errors.Is(err, redis.Nil) {
		return Output{}, nil
	}
	return Output{Value: v}, err
}

// MSet writes pairs with one MSET to node id.
func (cs *Conns) MSet(ctx context.Context, id int, pairs ...string) error {
	args := make([]any, len(pairs))
	for i, p := range pairs {
		args[i] = p
	}
	return cs.byNode[id].MSet(ctx, args...).Err()
}

// MGet reads keys with one MGET from node id ("" for nil).
func (cs *Conns) MGet(ctx context.Context, id int, keys ...string) ([]string, error) {
	vals, err := cs.byNode[id].MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = s
		}
	}
	return out, nil
}
