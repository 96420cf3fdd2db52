// Package transport carries Raft messages, snapshots and forwarded requests
// between Flotilla nodes.
//
// # Role
//
// A node hosts thousands of Raft groups; the transport gives it one
// message path, one snapshot path and one call path (request/response,
// for requests forwarded to a shard's leader) to each peer node, shared
// by every group. Everything queued for a peer, from any group, leaves in one frame
// per flush; the heartbeats of all groups between two nodes leave as one
// coalesced frame per tick. It is built on github.com/valyala/fastrpc,
// with its own binary frame format (below), and an in-memory equivalent
// ([MemNetwork]) with deterministic fault injection for the store's tests.
//
// # API
//
// The store creates a [Transport] with [New] ([Options], a [Handler]) and
// uses it through the [Sender] methods:
//
//   - [Transport.Send] encodes messages (any groups, any peers) into each
//     peer's open frame and returns at once; the caller may reuse the
//     messages and their entries immediately. Non-heartbeat messages leave
//     in the peer's next frame.
//   - [Transport.FlushHeartbeats] is called by the store's ticker once per
//     tick: each peer with heartbeats queued gets one frame carrying all of
//     them. Heartbeats also ride along in any message frame sent earlier.
//     [Transport.FlushReadHeartbeats] does the same at once, after a store
//     round that started a read round (a linearizable read waits on its
//     heartbeats' round trip); its frames are counted apart, as read
//     frames, since they follow the read load and not the tick.
//   - [Transport.SendSnapshot] streams a snapshot on the separate path and
//     returns once the receiver has installed it (or failed).
//   - [Transport.Call] sends a request on the call path and returns the
//     peer's answer ([Caller]); the store forwards requests that reach a
//     node not leading their shard this way.
//
// Incoming frames reach [Handler.HandleMessages]; complete, verified
// snapshot streams reach [Handler.HandleSnapshot]; incoming Calls reach
// [CallHandler.HandleCall] when the Handler also implements it (found by
// type assertion; without it Calls are refused with [ErrCallRefused]). [Transport.Status]
// reports per-peer state for admin status; [Transport.Metrics] returns
// counters; [EventListener] callbacks report unreachable peers (which the
// store reports to Raft) and refused frames. Peer addresses come from a
// [Resolver] (placement fills it from gossip) at every dial.
//
// For tests, [NewMemNetwork] builds an in-memory network whose
// [MemTransport]s implement [Sender] with the same heartbeat coalescing,
// and [Caller] (the callee's handler runs on the caller's goroutine; cuts
// and partitions make it fail with [ErrUnreachable]). It
// is driven by an explicit virtual clock ([MemNetwork.Advance]): nothing
// is delivered between calls, a message sent during a call falls due
// after its window (so a call ends even while others keep sending;
// [MemNetwork.Close] stops it at once), and under one seed the same calls
// deliver the same messages at the same virtual times. [Faults] sets loss,
// duplication, a uniform delay distribution and reordering per link;
// [MemNetwork.Cut], [MemNetwork.Partition], [MemNetwork.Isolate] and
// [MemNetwork.Heal] make one-way and two-way partitions. Its queue, which
// only Advance drains, is bounded per one-way link by the TCP transport's
// defaults: [DefaultMaxQueuedMessages] Raft messages and
// [DefaultMaxQueuedHeartbeats] heartbeats in flight ([MemNetwork.InFlight]);
// the newest messages past the bound are dropped and counted
// (MemStats.Dropped and QueueFull), as a full peer queue drops over TCP.
// Snapshots and Calls travel synchronously and are never queued.
//
// # Invariants and promises
//
//   - Send never blocks on the network. Each peer's queue is bounded
//     (MaxQueuedMessages, MaxQueuedHeartbeats); a full queue drops and
//     counts. Raft tolerates loss; the transport never retries a message.
//     [MemNetwork] bounds each link the same way, with the defaults.
//   - At most one heartbeat-only frame per peer per FlushHeartbeats call,
//     whatever the number of groups: heartbeat frames per peer pair per
//     second equal ticks per second (read frames apart). Heartbeats are coalesced to one per
//     (type, group) between flushes; the latest wins.
//   - Within a frame, messages keep the order Send queued them, and frames
//     usually arrive in order, but not always: fastrpc re-queues a request
//     at the back of its queue when it dials and when its timeout sweeper
//     scans, so frames may be reordered around a (re)connection. A
//     reconnect may also lose frames. Receivers must tolerate loss and
//     reordering, as Raft does.
//   - Snapshots travel on their own connection per peer, paced by a
//     node-wide byte-rate limit, one chunk in flight per stream
//     (back-pressure); a big snapshot never delays heartbeats or messages.
//     A receiver installs a snapshot only after every chunk arrived in
//     order and the size and CRC32C of the whole stream match; a broken
//     stream is discarded and the sender restarts it from the beginning.
//   - Calls travel on their own connection per peer, served by their own
//     fastrpc server that runs each request in its own goroutine (at most
//     MaxConcurrentCalls node-wide; beyond, a Call is refused unrun): a
//     HandleCall blocked for a Raft round trip delays neither Raft frames
//     nor heartbeats (whose server reads in order on one goroutine per
//     connection) nor other Calls. A Call's error says whether the request
//     may have run: ErrCallRefused (not run), ErrUnreachable and
//     ErrTimeout (may have run).
//   - Bytes from the network are validated once, in the frame decoder:
//     length against MaxFrameBytes before allocating, CRC32C, version,
//     cluster ID, destination node, every count against the bytes left,
//     every type against its range. A bad frame closes its connection,
//     is logged and counted (Metrics.FramesRejected), and never panics.
//     FuzzDecodeFrame (seed corpus in testdata/fuzz) exercises the decoder.
//   - No per-message allocation on the hot path: the sender encodes into
//     reused frame buffers; the receiver allocates per frame (the frame
//     bytes and entry arenas that double in size; entry data aliases the
//     frame bytes), never per message, and decodes into a message slice
//     it reuses for the connection's next frame.
//
// # Concurrency contract
//
// [Transport] and [MemNetwork] are safe for concurrent use. Per peer, one
// goroutine turns the queue into frames; fastrpc's writer goroutine writes
// them. HandleMessages is called on the connection's reader goroutine and
// must not block (queue and return). It may keep the messages' entries,
// their data and snapshots, but not the batch slice, which the transport
// clears and reuses: it copies the Message values it keeps. HandleSnapshot
// runs on the snapshot connection's reader goroutine and may block.
// HandleCall runs in a goroutine of its own per request and may block; its
// ctx ends at the caller's deadline or on Close. Call blocks the caller's
// goroutine (it starts none) until the answer, ctx's deadline or
// CallTimeout; NB: fastrpc cannot withdraw a request, so a ctx canceled
// without a deadline is noticed only when the call ends, and a Call queued
// for a peer being dialed waits out its deadline even across Close.
// EventListener callbacks run on transport goroutines and must not block.
// SendSnapshot blocks; call it from a snapshot-sender goroutine, never
// from a Raft worker. [Transport.Close] closes the listener and every
// connection, cancels the ctx of running HandleCalls, stops every goroutine
// the package started (and the call goroutines fastrpc started for it)
// and waits for them.
//
// NB: fastrpc.Client has no Close. Each client starts a worker and a
// timeout sweeper that live for the process; after Close they are parked
// (the worker waits on an empty channel, the sweeper wakes once a second)
// and hold no connection. That is two goroutines per peer per path (six
// per peer) per Transport ever created. fastrpc's package init also starts
// a 1 s clock goroutine. Connections are closed through our own wrappers
// (the Client.Dial func and a wrapped listener), never through fastrpc.
//
// # Must never
//
//   - block a Raft worker on a slow or dead peer;
//   - let snapshot traffic delay heartbeats or messages;
//   - let a Call, however long its handler blocks, delay heartbeats,
//     messages or other Calls;
//   - decide anything about Raft: it does not look inside messages beyond
//     routing (To), coalescing heartbeat-type messages, and encoding;
//   - import raftgroup (only raftgroup/raftpb, for the types);
//   - panic on bytes from the network.
//
// # Connections
//
// Three fastrpc clients per peer (messages, snapshots, calls), each one
// TCP connection, dialed lazily on first use, with CompressNone (frames
// are already compact; snapshot chunks are s2-compressed). One port serves
// them all: the accept loop reads the first bytes of each connection (its
// fastrpc sniff header) and hands it, bytes replayed, to one of two fastrpc
// servers. The message server uses PipelineRequests, so a connection's
// frames are handled in order on its reader goroutine; the call server
// does not, so each Call runs in its own goroutine. A failed dial or handshake lengthens a capped
// exponential backoff (MinBackoff doubling to MaxBackoff, jittered into
// [b/2, b)); the first byte read from a new connection (the end of the
// handshake) resets it. fastrpc itself waits 1 s after a failed dial, so
// reconnection attempts are never closer than that. Raft frames use
// fastrpc SendNowait (no response); the flush goroutine takes the queue
// only while fewer than MaxInflightFrames frames wait in fastrpc, so while
// that bound is reached (slow or dead peer) messages gather in the queue
// (dropping beyond MaxQueuedMessages) and leave as one larger frame.
//
// With Options.TLS, TLS 1.3 with mutual authentication wraps the TCP
// connection below fastrpc (a wrapped listener and dialer): every node
// presents its certificate and accepts only peers whose certificate chains
// to the CA. fastrpc's own TLSConfig is not used, because a fastrpc server
// with TLS configured still accepts plaintext clients.
//
// # Wire format
//
// After fastrpc's handshake (the sniff header "flotilla-transport" for
// message and snapshot connections, "flotilla-rpc-calls" for call
// connections, both 18 bytes; protocol version 1, compression none), each
// request on a connection is fastrpc's 4-byte little-endian request ID (0
// for SendNowait) followed by one frame:
//
//	| offset | size   | field                                               |
//	|--------|--------|-----------------------------------------------------|
//	| 0      | 4      | length L of everything after the CRC (u32 LE)       |
//	| 4      | 4      | CRC32C (Castagnoli) of those L bytes (u32 LE)       |
//	| 8      | 1      | wire version (1)                                    |
//	| 9      | 1      | kind: 1 = message batch, 2 = snapshot chunk,        |
//	|        |        | 3 = call, 4 = call reply                            |
//	| 10     | 8      | cluster ID (u64 LE); another cluster is refused     |
//	| 18     | 8      | from node ID (u64 LE)                               |
//	| 26     | 8      | to node ID (u64 LE); another node is refused        |
//	| 34     | 4      | message count M (u32 LE; 0 for chunks)              |
//	| 38     | 4      | heartbeat count H (u32 LE; 0 for chunks)            |
//	| 42     | L - 34 | body                                                |
//
// A batch body is M messages then H coalesced heartbeats. From and To of
// every message are the header's. A message:
//
//	| field       | encoding                                                |
//	|-------------|---------------------------------------------------------|
//	| type        | 1 byte, 1..MaxMessageType                               |
//	| flags       | 1 byte: which optional fields follow (bit 0 LogTerm,    |
//	|             | 1 Index, 2 Commit, 3 RejectHint, 4 Context, 5 Entries,  |
//	|             | 6 Snapshot) and bit 7 Reject                            |
//	| group, term | uvarint each                                            |
//	| optional    | uvarint each, in bit order, only if flagged             |
//	| entries     | uvarint count (> 0), then per entry: uvarint term,      |
//	|             | uvarint index, 1 byte type, uvarint length, data        |
//	| snapshot    | uvarint index, uvarint term, four node lists (voters,   |
//	|             | outgoing voters, learners, learners next: uvarint count |
//	|             | then uvarint IDs), 1 byte auto-leave, uvarint length,   |
//	|             | data                                                    |
//
// A coalesced heartbeat is 1 byte type (MsgHeartbeat, MsgHeartbeatResp
// or MsgQuiesce), then uvarint group, term, commit and context: about
// eight bytes per group.
//
// A snapshot chunk body: uvarint stream ID, uvarint sequence number (from
// 0), 1 byte flags (bit 0 first, bit 1 last); on the first chunk the
// MsgSnap message (encoded as above, without data); on the last, uvarint
// total uncompressed size and 4-byte CRC32C of the whole uncompressed
// stream; then uvarint length and an s2 block of at most
// SnapshotChunkBytes uncompressed. Each chunk is a fastrpc request with a
// response: u32 LE length, 1 byte status (0 stored or installed, 1
// refused: restart, 2 rejected by the receiver's Handler, 3 corrupt:
// restart), and a message.
//
// Kinds 1 and 2 travel only on message and snapshot connections, 3 on
// call connections; 4 is a call connection's response. A kind on the
// wrong connection is a bad frame. A call body is the uvarint time the
// caller still waits, in milliseconds (0: none; above 24 h is a bad frame;
// the callee's HandleCall ctx ends then), followed by the request bytes
// (the rest of the frame). Each call's response is a whole frame too
// (kind 4, from the callee, to the caller, both checked by the caller
// with the same length, CRC32C and cluster checks), whose body is:
//
//	| field   | encoding                                                   |
//	|---------|------------------------------------------------------------|
//	| status  | 1 byte: 0 answered, 1 no CallHandler, 2 MaxConcurrentCalls |
//	|         | reached, 3 callee closing (1-3: not run), 4 answer larger  |
//	|         | than MaxFrameBytes (it ran)                                |
//	| payload | the rest: the answer (status 0) or an explanation          |
//
// Changing any of this changes wireVersion and fastrpcProtocolVersion.
// NB: calls (kinds 3 and 4) were added without a change: frames of kinds
// 1 and 2 are unchanged, and an older node fails the handshake of a call
// connection (unknown sniff header), which a Call reports as unreachable.
package transport
