package shard

import (
	"bytes"
	"fmt"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Descriptor describes one shard: its key range [Start, End), its
// replicas and its epoch. An empty End means "to the end of the key
// space". Epoch grows whenever the range or the membership changes, so a
// node holding an older descriptor knows its route is stale.
type Descriptor struct {
	ID       ShardID
	Start    []byte
	End      []byte
	Replicas []raftpb.NodeID
	Epoch    uint64
}

// Contains reports whether key falls in the shard's range.
func (d *Descriptor) Contains(key []byte) bool {
	return bytes.Compare(key, d.Start) >= 0 && (len(d.End) == 0 || bytes.Compare(key, d.End) < 0)
}

func (d Descriptor) String() string {
	end := fmt.Sprintf("%q", d.End)
	if len(d.End) == 0 {
		end = "+inf"
	}
	return fmt.Sprintf("shard %d [%q, %s) replicas=%v epoch=%d", d.ID, d.Start, end, d.Replicas, d.Epoch)
}
