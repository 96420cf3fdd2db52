package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/flotilladb/flotilla/shard"
)

// respError turns a store error into a RESP error line. The first word
// is the error class clients switch on: TRYAGAIN means nothing was done
// and a retry is safe; ERR timeout means a write may have been applied.
func respError(err error) string {
	var nl *shard.NotLeaderError
	switch {
	case errors.As(err, &nl) && nl.Leader != raftpb.None:
		return fmt.Sprintf("ERR not leader: node %d leads shard %d and the request could not be served through it (a leadership change under way); nothing was applied, retry", nl.Leader, nl.Shard)
	case errors.As(err, &nl):
		return fmt.Sprintf("TRYAGAIN no leader known for shard %d (election in progress)", nl.Shard)
	case errors.Is(err, shard.ErrNoQuorum):
		return "TRYAGAIN no quorum for the key's shard: " + err.Error()
	case errors.Is(err, shard.ErrProposalDropped):
		return "TRYAGAIN write dropped before it was applied: " + err.Error()
	case errors.Is(err, shard.ErrTimeout):
		return "ERR timeout (a write may still be applied): " + err.Error()
	case errors.Is(err, shard.ErrTooLarge):
		return "ERR request too large: " + err.Error()
	case errors.Is(err, shard.ErrFailed):
		return "ERR node failed, it serves nothing until restarted: " + err.Error()
	case errors.Is(err, shard.ErrClosed):
		return "ERR node is shutting down"
	case errors.Is(err, shard.ErrNoShard):
		return "ERR no shard on this node covers the key: " + err.Error()
	}
	return "ERR " + err.Error()
}

func (s *Server) replyStoreError(w replier, err error) {
	if s.ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", shard.ErrClosed, err)
	}
	s.replyError(w, respError(err))
}

// httpStatus is the HTTP status of a store error.
func httpStatus(err error) int {
	var nl *shard.NotLeaderError
	switch {
	case errors.As(err, &nl), errors.Is(err, shard.ErrNoQuorum), errors.Is(err, shard.ErrProposalDropped),
		errors.Is(err, shard.ErrClosed), errors.Is(err, shard.ErrFailed):
		return http.StatusServiceUnavailable
	case errors.Is(err, shard.ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, shard.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}
