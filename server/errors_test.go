package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilladb/flotilla/shard"
)

func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		err    error
		prefix string
		status int
	}{
		{&shard.NotLeaderError{Shard: 3, Leader: 2}, "ERR not leader: node 2 leads shard 3", http.StatusServiceUnavailable},
		{&shard.NotLeaderError{Shard: 3}, "TRYAGAIN no leader known for shard 3", http.StatusServiceUnavailable},
		{fmt.Errorf("x: %w", shard.ErrNoQuorum), "TRYAGAIN no quorum", http.StatusServiceUnavailable},
		{shard.ErrProposalDropped, "TRYAGAIN write dropped", http.StatusServiceUnavailable},
		{fmt.Errorf("%w: deadline", shard.ErrTimeout), "ERR timeout (a write may still be applied)", http.StatusGatewayTimeout},
		{shard.ErrTooLarge, "ERR request too large", http.StatusRequestEntityTooLarge},
		{shard.ErrClosed, "ERR node is shutting down", http.StatusServiceUnavailable},
		{fmt.Errorf("%w: fsync", shard.ErrFailed), "ERR node failed", http.StatusServiceUnavailable},
		{shard.ErrNoShard, "ERR no shard on this node covers the key", http.StatusInternalServerError},
		{errors.New("boom"), "ERR boom", http.StatusInternalServerError},
	} {
		if got := respError(c.err); !strings.HasPrefix(got, c.prefix) {
			t.Errorf("respError(%v) = %q, want prefix %q", c.err, got, c.prefix)
		}
		if got := httpStatus(c.err); got != c.status {
			t.Errorf("httpStatus(%v) = %d, want %d", c.err, got, c.status)
		}
	}
}
