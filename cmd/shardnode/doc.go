// Command shardnode runs Flotilla nodes and talks to them.
//
//	shardnode local                 a 3-node cluster in one process on loopback
//	shardnode start --id 1 ...      one node of a static cluster
//	shardnode get|put|del|scan KEY  key-value access over a node's HTTP API
//	shardnode status                a node's shards, leaders and counters
//
// Every command and flag has help: `shardnode help`, `shardnode local -h`.
//
// `start` also reads its flags from FLOTILLA_<FLAG> environment variables
// and from a TOML file (--config); a flag given on the command line wins
// over the environment, which wins over the file (config.go says why
// TOML). `local` prints the URL of the dashboard served on node 1's HTTP
// port.
//
// The servers stop cleanly on SIGINT or SIGTERM: client listeners close,
// requests in flight are cancelled, the stores take a final sync point and
// close.
//
// Exit codes: 0 success (including a clean stop on a signal); 1 any error
// (bad flags, a failed start, a failed request, a key not found by get).
//
// Placement (gossip membership, --join, --bootstrap-expect, rebalancing)
// does not exist yet: `start` forms a static cluster from --peers, and
// every node must be given the same --peers and --shards.
package main
