package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

// SnapshotSource yields a snapshot's bytes. SendSnapshot opens it once per
// attempt, because a broken stream restarts from the beginning.
type SnapshotSource interface {
	Open() (io.ReadCloser, error)
}

// BytesSource is a SnapshotSource over a byte slice.
type BytesSource []byte

// Open implements SnapshotSource.
func (b BytesSource) Open() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

// SendSnapshot streams the snapshot src to msg.To on the snapshot path
// (its own connection, so heartbeats and messages never wait behind it).
// msg must be a MsgSnap with Snapshot metadata; its Snapshot.Data travels
// with the metadata in the stream's first frame, so it must be small (the
// store puts the shard's descriptor there); the image itself is src. Chunks of SnapshotChunkBytes are s2-compressed, paced by
// the node-wide SnapshotBytesPerSec limit, and each waits for the
// receiver's acknowledgement (back-pressure). SendSnapshot returns nil only
// once the receiver's Handler has installed the snapshot. A broken stream
// restarts from the beginning, up to MaxSnapshotAttempts times; the
// receiver never installs a partial stream.
//
// It blocks; call it from a goroutine of the store's snapshot sender,
// never from a Raft worker. Errors wrap ErrSnapshotFailed (and
// ErrSnapshotRejected when the receiver refused the install), ErrClosed,
// or ctx's error.
func (t *Transport) SendSnapshot(ctx context.Context, msg raftpb.Message, src SnapshotSource) error {
	if msg.Type != raftpb.MsgSnap || msg.Snapshot == nil || msg.To == raftpb.None || msg.To == t.opts.NodeID {
		return fmt.Errorf("%w: SendSnapshot needs a MsgSnap with a snapshot to another node: %v", ErrSnapshotFailed, msg)
	}
	p := t.peer(msg.To)
	if p == nil {
		return ErrClosed
	}
	msg.From = t.opts.NodeID
	meta := *msg.Snapshot
	msg.Snapshot = &meta
	var err error
	for attempt := 1; attempt <= t.opts.MaxSnapshotAttempts; attempt++ {
		if err = p.streamSnapshot(ctx, &msg, src); err == nil {
			t.m.snapshotsSent.Add(1)
			return nil
		}
		if errors.Is(err, ErrSnapshotRejected) || ctx.Err() != nil || t.isClosed() {
			break
		}
		t.log.Warn("transport: snapshot stream broken, restarting", "peer", msg.To, "group", msg.Group, "attempt", attempt, "err", err)
		if werr := t.sleep(ctx, min(t.opts.MinBackoff<<attempt, t.opts.MaxBackoff)); werr != nil {
			break
		}
	}
	t.m.snapshotFailures.Add(1)
	if t.isClosed() {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %w", ErrSnapshotFailed, cerr)
	}
	return fmt.Errorf("%w: to node %d group %d: %w", ErrSnapshotFailed, msg.To, msg.Group, err)
}

// streamSnapshot sends src once, from its first byte, as a new stream.
func (p *peer) streamSnapshot(ctx context.Context, msg *raftpb.Message, src SnapshotSource) error {
	t := p.t
	r, err := src.Open()
	if err != nil {
		return fmt.Errorf("transport: open snapshot source: %w", err)
	}
	defer r.Close()
	n := t.opts.SnapshotChunkBytes
	cur, next := make([]byte, n), make([]byte, n)
	c := chunk{stream: t.nextStream.Add(1), flags: chunkFirst, msg: *msg}
	c.msg.To = p.id
	curLen, err := readChunk(r, cur)
	if err != nil {
		return err
	}
	var size uint64
	crc := uint32(0)
	f := &frame{}
	zbuf := make([]byte, s2.MaxEncodedLen(n))
	for {
		nextLen, err := readChunk(r, next)
		if err != nil {
			return err
		}
		raw := cur[:curLen]
		size += uint64(len(raw))
		crc = crc32.Update(crc, castagnoli, raw)
		if nextLen == 0 {
			c.flags |= chunkLast
			c.size, c.crc = size, crc
		}
		c.data = s2.Encode(zbuf, raw)
		if err := p.sendChunk(ctx, f, &c); err != nil {
			return err
		}
		if c.flags&chunkLast != 0 {
			return nil
		}
		c.seq++
		c.flags = 0
		cur, next, curLen = next, cur, nextLen
	}
}

// readChunk fills buf as far as r allows; 0 means r is exhausted.
func readChunk(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("transport: read snapshot source: %w", err)
	}
	return n, nil
}

// sendChunk frames c, waits for the rate limiter and for the receiver's
// acknowledgement.
//
// TODO(latency): one chunk in flight per stream caps a stream at
// SnapshotChunkBytes per round trip; fine on a LAN (1 MiB per ~0.1 ms),
// slow across regions. A small window of chunks would fill long links.
func (p *peer) sendChunk(ctx context.Context, f *frame, c *chunk) error {
	t := p.t
	f.buf = beginFrame(f.buf[:0], frameHeader{kind: kindChunk, cluster: t.opts.ClusterID, from: t.opts.NodeID, to: p.id})
	f.buf = appendChunk(f.buf, c)
	finishFrame(f.buf, 0, 0)
	if len(f.buf) > min(maxChunkFrameBytes(t.opts.SnapshotChunkBytes), t.opts.MaxFrameBytes+prefixBytes) {
		return fmt.Errorf("%w: snapshot metadata too large (%d byte chunk frame)", ErrSnapshotRejected, len(f.buf))
	}
	if err := t.limiter.wait(ctx, t.done, len(f.buf)); err != nil {
		return err
	}
	timeout := t.opts.SnapshotChunkTimeout
	if c.flags&chunkLast != 0 {
		timeout = t.opts.SnapshotInstallTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var ack chunkAck
	if err := p.snap.client.DoDeadline(f, &ack, deadline); err != nil {
		return fmt.Errorf("transport: snapshot chunk %d to node %d: %v", c.seq, p.id, err)
	}
	t.m.snapshotBytesSent.Add(uint64(len(f.buf)))
	p.stats.bytesSent.Add(uint64(len(f.buf)))
	switch ack.status {
	case ackOK:
		return nil
	case ackRejected:
		return fmt.Errorf("%w: %s", ErrSnapshotRejected, ack.msg)
	default:
		return fmt.Errorf("transport: snapshot chunk %d refused by node %d: %s", c.seq, p.id, ack.msg)
	}
}
