package placement

import "sync/atomic"

// counters are the placement layer's counters on this node.
type counters struct {
	passes, movesStarted, movesDone, movesFailed atomic.Uint64
	metaRefreshes                                atomic.Uint64
}

// Metrics is a snapshot of a node's placement counters. Driver figures
// grow only on the node that leads the meta shard (or ran an admin move).
type Metrics struct {
	DriverPasses  uint64 // driver passes run here (as meta leader)
	MovesStarted  uint64 // moves, splits and leader transfers started here
	MovesDone     uint64
	MovesFailed   uint64
	MovesInFlight int    // running here now
	MetaRefreshes uint64 // reloads of the meta cache
	MetaVersion   int64  // the meta shard version the cache holds
}

// Metrics returns the node's placement counters.
func (n *Node) Metrics() Metrics {
	return Metrics{
		DriverPasses: n.m.passes.Load(), MovesStarted: n.m.movesStarted.Load(),
		MovesDone: n.m.movesDone.Load(), MovesFailed: n.m.movesFailed.Load(),
		MovesInFlight: len(n.driver.moves()), MetaRefreshes: n.m.metaRefreshes.Load(),
		MetaVersion: n.cache.loadedVersion(),
	}
}
