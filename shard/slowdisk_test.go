package shard

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	fvfs "github.com/flotilladb/flotilla/internal/vfs"
	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// slowDisks returns node id's file system for TestLinearizableSlowDisks:
// the OS's, with a seeded share of writes and syncs delayed. Node 1's
// disk is the slow one (one sync in five takes 10-50 ms); the others
// delay one sync in ten by up to 5 ms.
func slowDisks(seed uint64, id raftpb.NodeID) vfs.FS {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	slow := id == 1
	return fvfs.Wrap(vfs.Default, func(op fvfs.Op) fvfs.Action {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case op.Kind == fvfs.OpSync && slow && rng.IntN(5) == 0:
			return fvfs.Action{Delay: time.Duration(10+rng.IntN(40)) * time.Millisecond}
		case op.Kind == fvfs.OpSync && rng.IntN(10) == 0:
			return fvfs.Action{Delay: time.Duration(rng.IntN(5000)) * time.Microsecond}
		case op.Kind == fvfs.OpWrite && slow && rng.IntN(20) == 0:
			return fvfs.Action{Delay: time.Duration(rng.IntN(10)) * time.Millisecond}
		}
		return fvfs.Action{}
	})
}
