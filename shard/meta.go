package shard

// MetaShardID names the meta shard: the placement layer's table
// (descriptors, node states, moves). Its keys live in a key space of
// their own in the state machine, apart from every user key, so it is
// never found by routing a user key; placement reaches it by ID
// (ExecShard, ScanShard). A cluster has it only when Options.MetaShard
// (or an InitialShards entry with this ID) bootstraps it.
const MetaShardID ShardID = 0

// Initialized reports whether the descriptor describes a shard this node
// holds data for: an uninitialized replica (created to receive its first
// snapshot) has no replicas yet.
func (d *Descriptor) Initialized() bool { return len(d.Replicas) > 0 }
