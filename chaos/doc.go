// Package chaos tests Flotilla the way users run it: real shardnode
// processes, started with `shardnode start` and a static --peers list or
// as a placement cluster (gossip), reached over real TCP through the
// Redis protocol, while a nemesis kills, pauses and restarts them, moves,
// transfers and splits shards through the admin API and, in network
// namespaces, partitions, slows and drops their traffic, or keeps a node
// out until the placement driver has re-created its replicas elsewhere.
//
// # What a run checks
//
//   - Linearizability: concurrent sequential clients send GET, SET (plain,
//     NX, XX, with and without GET), DEL and INCR on a small hot key set,
//     each to a random live node. Every call is recorded with its invoke
//     and return times; a write whose outcome the client cannot know (a
//     timeout, a connection lost after the command was sent) stays open to
//     the end of the run. After the nemesis stops, everything is healed,
//     every key is read once more, and porcupine checks the history
//     against [Model], partitioned per key. A violation writes porcupine's
//     HTML visualization and a text listing of the failing keys.
//   - Acknowledged writes: clients also write keys nobody writes again (the
//     ledger); after healing every acknowledged one must read back.
//   - Placement under network faults (TestNetnsPlacementLinearizable):
//     with a short dead timeout, nodes kept out (killed, paused or
//     isolated) until the placement driver has re-created their replicas
//     elsewhere; the run fails if the driver never did, and unless, once
//     healed, every node's cluster view shows every node live, every shard
//     with its replicas and a leader, and no move in flight.
//   - Crash consistency: writers MSET groups of keys that live in one shard
//     (one atomic command) and INCR counters they own, while nodes are
//     killed with SIGKILL, alone, two at once (no quorum) or all three.
//     After each restart every acknowledged batch and increment is there,
//     and no batch is half applied.
//   - Fail-stop: with shardnode's testing knob FLOTILLA_TEST_FAULTS
//     ([Disk]), a node whose syncs fail must exit by itself, non-zero,
//     naming the error, and lose nothing acknowledged; slow syncs must not
//     break linearizability.
//   - Lease reads: with --lease-reads, a clock skewed within the drift
//     bound (FLOTILLA_TEST_CLOCK_RATE) or a leader stopped and continued
//     must not produce a stale read; beyond the bound one is expected.
//
// # Determinism
//
// A seed fixes the workload's and the nemesis's choices; every run prints
// it and the command that replays it. Real processes and a real network
// are not deterministic: a replay repeats the same schedule of faults and
// commands, not the same interleaving.
//
// # Limits
//
// Every load loop is bounded in operations and in time; the nemesis in
// steps and in time; every wait (readiness, final reads) has a deadline.
// Processes are started with Pdeathsig so they die with the test process.
//
// # Network namespaces
//
// [Net] needs root, ip (iproute2), iptables and tc. It makes one namespace
// per node with a veth pair to a bridge of its own, in a 10.213.X.0/24
// subnet no interface uses yet; the test, in the root namespace, talks
// to the nodes through the bridge's address .254. Faults are iptables rules
// and tc qdiscs inside the namespaces it made, and nowhere else. Names
// carry the test process's ID; a run deletes what it made when it ends
// (also on failure), and sweeps what runs that died left behind.
//
// The package must never: send traffic to addresses outside the
// namespaces and loopback addresses it chose, change the root
// namespace's firewall, or leave a process or namespace behind.
package chaos
