// Package server serves a node store (package shard) to clients: the
// Redis protocol (RESP2) on the client address, and HTTP on the admin
// address. [OpenNode] bundles a store and a [Server] into one running
// node; `shardnode` is a thin command line over it.
//
// # RESP
//
// Built on github.com/tidwall/redcon, which parses the protocol and
// batches the replies of a pipeline into one write. A framer in front of
// it (resp_guard.go) checks each connection's input as it arrives: an
// argument over Options.MaxBulkBytes, a command over MaxRequestBytes, an
// array over 2^20 elements or an inline line over 64 KiB gets Redis's
// "ERR Protocol error" line and a closed connection before it is
// buffered. Commands:
//
//	PING ECHO QUIT AUTH HELLO SELECT COMMAND CLIENT CONFIG INFO DBSIZE
//	GET SET DEL EXISTS MGET MSET INCR INCRBY DECR DECRBY SCAN
//
// Semantics that differ from Redis, and why:
//
//   - GET, SET and INCR-family commands are linearizable: each runs in the
//     key's shard through Raft (INCR is one read-modify-write command
//     applied inside the shard, so concurrent increments never lose one).
//   - SET supports NX, XX and GET. EX, PX, EXAT, PXAT and KEEPTTL are
//     refused with an error: keys do not expire. SET XX reads the value
//     and writes conditioned on it, retrying on a concurrent change.
//   - DEL and EXISTS work key by key, several keys at a time: each key's
//     read or delete is linearizable, the command as a whole is not a
//     snapshot. MSET writes each shard's pairs in one atomic command
//     and the shards in parallel: it is atomic only when all its keys fall
//     in one shard, and a failure part way leaves some shards written.
//     Keys are grouped by the store's routing (Store.ShardFor), and a group
//     that meets a moved boundary is grouped again (execByShard), never
//     written key by key.
//     MGET is its mirror (one shard.Store.GetMany): each shard's keys are
//     read at one moment, so a single-shard MSET is seen whole or not at
//     all; the shards are read in parallel, each at its own moment. An
//     MGET of more than shard.MaxGetManyKeys (4,096) keys is refused.
//   - SCAN walks the ordered key space. Its cursor is a number naming a
//     resume key the server remembers (the newest Options.MaxCursors);
//     see cursorTable. Keys come in order, none twice.
//   - DBSIZE scans every key: O(n).
//   - HELLO 3 is refused (NOPROTO): only RESP2 is spoken.
//   - INFO has the server, clients, cluster and stats sections;
//     cluster_enabled is 0 because Flotilla routes keys itself.
//   - With Options.Password set, every command but AUTH, HELLO and QUIT
//     gets NOAUTH until the client authenticates.
//
// Store errors become RESP errors whose first word says what to do:
// TRYAGAIN (no quorum, no leader, dropped write: nothing applied, retry),
// "ERR timeout" (a write may have applied), "ERR not leader" (the store
// forwards to the shard's leader itself; this reaches the client only
// when leadership moved while the request was on its way: nothing was
// applied, retry), "ERR node is shutting down".
//
// # HTTP
//
//	GET    /                    the dashboard (embedded assets under /dashboard/)
//	GET    /api/cluster         nodes, shards, moves: the cluster view (ClusterSource)
//	GET    /api/rates           this node's recent ops/s and fsyncs/s (for the dashboard)
//	POST   /api/admin/{rebalance,drain,move,split,transfer-leader}
//	                            placement admin operations (placement.go; 501 without placement)
//	GET    /api/status          node, options, metrics, shards (JSON)
//	GET    /api/shards          the shards with leader and applied index
//	GET    /api/kv/{key}        a value (404 if absent)
//	PUT    /api/kv/{key}        set a value (the raw request body)
//	DELETE /api/kv/{key}        delete a key
//	GET    /api/scan?start=&end=&limit=
//	GET    /metrics             Prometheus, from the server's own registry
//	/debug/pprof/               Go profiles
//	GET    /healthz             200 while the process is up
//	GET    /readyz              200 when every local shard has a leader
//
// The HTTP port has no authentication yet (Options.Password guards RESP
// only): expose it to trusted networks only. TODO(admin token): require
// a token on the API.
//
// Commands of one connection run one after another, as Redis orders
// them, so a single connection's throughput is bounded by the commit
// latency even when pipelined; use several connections for throughput.
//
// # Concurrency
//
// A Server is safe for concurrent use. redcon runs one goroutine per
// connection; commands of one connection run in order. Close stops the
// listeners, cancels requests in flight, and returns after every
// connection goroutine and accept loop has ended. The server never
// closes the store; a Node closes the server, then the store.
//
// The server must never use process-wide state: no default Prometheus
// registry (several servers share a process in `shardnode local`), no
// global logger.
package server
