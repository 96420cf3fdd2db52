// Package transport carries Raft messages and snapshots between Flotilla
// nodes.
//
// # Role
//
// A node hosts thousands of Raft groups; the transport gives it one
// message path and one snapshot path to each peer node, shared by every
// group. Everything queued for a peer, from any group, leaves in one frame
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
//   - [Transport.SendSnapshot] streams a snapshot on the separate path and
//     returns once the receiver has installed it (or failed).
//
// Incoming frames reach [Handler.HandleMessages]; complete, verified
// snapshot streams reach [Handler.HandleSnapshot]. [Transport.Status]
// reports per-peer state for admin status; [Transport.Metrics] returns
// counters; [EventListener] callbacks report unreachable peers (which the
// store reports to Raft) and refused frames. Peer addresses come from a
// [Resolver] (placement fills it from gossip) at every dial.
//
// For tests, [NewMemNetwork] builds an in-memory network whose
// [MemTransport]s implement [Sender] with the same heartbeat coalescing. It
// is driven by an explicit virtual clock ([MemNetwork.Advance]): nothing
// is delivered between calls, and under one seed the same calls deliver
// the same messages at the same virtual times. [Faults] sets loss,
// duplication, a uniform delay distribution and reordering per link;
// [MemNetwork.Cut], [MemNetwork.Partition], [MemNetwork.Isolate] and
// [MemNetwork.Heal] make one-way and two-way partitions.
//
// # Invariants and promises
//
//   - Send never blocks on the network. Each peer's queue is bounded
//     (MaxQueuedMessages, MaxQueuedHeartbeats); a full queue drops and
//     counts. Raft tolerates loss; the transport never retries a message.
//   - At most one heartbeat-only frame per peer per FlushHeartbeats call,
//     whatever the number of groups: heartbeat frames per peer pair per
//     second equal ticks per second. Heartbeats are coalesced to one per
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
//   - Bytes from the network are validated once, in the frame decoder:
//     length against MaxFrameBytes before allocating, CRC32C, version,
//     cluster ID, destination node, every count against the bytes left,
//     every type against its range. A bad frame closes its connection,
//     is logged and counted (Metrics.FramesRejected), and never panics.
//     FuzzDecodeFrame (seed corpus in testdata/fuzz) exercises the decoder.
//   - No per-message allocation on the hot path: the sender encodes into
//     reused frame buffers; the receiver allocates per frame (the frame
//     bytes, one message slice, one entry arena; entry data aliases the
//     frame bytes), never per message.
//
// # Concurrency contract
//
// [Transport] and [MemNetwork] are safe for concurrent use. Per peer, one
// goroutine turns the queue into frames; fastrpc's writer goroutine writes
// them. HandleMessages is called on the connection's reader goroutine and
// must not block (queue and return); it then owns the batch. HandleSnapshot
// runs on the snapshot connection's reader goroutine and may block.
// EventListener callbacks run on transport goroutines and must not block.
// SendSnapshot blocks; call it from a snapshot-sender goroutine, never
// from a Raft worker. [Transport.Close] closes the listener and every
// connection, stops every goroutine the package started and waits for
// them.
//
// NB: fastrpc.Client has no Close. Each client starts a worker and a
// timeout sweeper that live for the process; after Close they are parked
// (the worker waits on an empty channel, the sweeper wakes once a second)
// and hold no connection. That is two goroutines per peer per path (four
// per peer) per Transport ever created. fastrpc's package init also starts
// a 1 s clock goroutine. Connections are closed through our own wrappers
// (the Client.Dial func and a wrapped listener), never through fastrpc.
//
// # Must never
//
//   - block a Raft worker on a slow or dead peer;
//   - let snapshot traffic delay heartbeats or messages;
//   - decide anything about Raft: it does not look inside messages beyond
//     routing (To), coalescing heartbeat-type messages, and encoding;
//   - import raftgroup (only raftgroup/raftpb, for the types);
//   - panic on bytes from the network.
//
// # Connections
//
// Two fastrpc clients per peer (messages, snapshots), each one TCP
// connection, dialed lazily on first use, with CompressNone (frames are
// already compact; snapshot chunks are s2-compressed). The server uses
// PipelineRequests, so a connection's frames are handled in order on its
// reader goroutine. A failed dial or handshake lengthens a capped
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
// After fastrpc's handshake (the sniff header "flotilla-transport",
// protocol version 1, compression none), each request on a connection is
// fastrpc's 4-byte little-endian request ID (0 for SendNowait) followed by
// one frame:
//
//	| offset | size   | field                                               |
//	|--------|--------|-----------------------------------------------------|
//	| 0      | 4      | length L of everything after the CRC (u32 LE)       |
//	| 4      | 4      | CRC32C (Castagnoli) of those L bytes (u32 LE)       |
//	| 8      | 1      | wire version (1)                                    |
//	| 9      | 1      | kind: 1 = message batch, 2 = snapshot chunk         |
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
// Changing any of this changes wireVersion and fastrpcProtocolVersion.
package transport
