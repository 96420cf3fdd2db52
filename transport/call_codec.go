package transport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Reply statuses: whether the callee's CallHandler ran the request.
const (
	replyOK         uint8 = 0 // payload is the CallHandler's answer
	replyNoHandler  uint8 = 1 // the callee has no CallHandler; not run
	replyOverloaded uint8 = 2 // MaxConcurrentCalls reached; not run
	replyClosing    uint8 = 3 // the callee's transport is closing; not run
	replyTooLarge   uint8 = 4 // the answer exceeded MaxFrameBytes; it ran
	maxReplyStatus        = replyTooLarge
)

// maxCallTimeout bounds the timeout a request may carry; a larger value is
// bad input, not a long wait.
const maxCallTimeout = 24 * time.Hour

// callOverheadBytes is the most a call or reply body adds to its payload
// (a timeout uvarint or a status byte), so MaxFrameBytes - headerBytes -
// callOverheadBytes is the largest request or answer that fits a frame.
const callOverheadBytes = binary.MaxVarintLen64

// appendCall builds a whole kindCall frame: the header, the caller's
// remaining time in milliseconds (0: none), then the request bytes.
func appendCall(buf []byte, h frameHeader, timeout time.Duration, req []byte) []byte {
	h.kind = kindCall
	buf = beginFrame(buf, h)
	buf = binary.AppendUvarint(buf, uint64(timeout.Milliseconds()))
	buf = append(buf, req...)
	finishFrame(buf, 0, 0)
	return buf
}

// decodeCall decodes a kindCall body. req aliases body.
func decodeCall(body []byte) (timeout time.Duration, req []byte, err error) {
	d := decoder{b: body}
	ms := d.uvarint("call timeout")
	if d.err == nil && ms > uint64(maxCallTimeout.Milliseconds()) {
		d.fail(fmt.Sprintf("call timeout %d ms", ms))
	}
	if d.err != nil {
		return 0, nil, d.err
	}
	return time.Duration(ms) * time.Millisecond, body[d.off:], nil
}

// appendReply builds a whole kindReply frame: the header, the status, then
// the answer (replyOK) or an explanation.
func appendReply(buf []byte, h frameHeader, status uint8, payload []byte) []byte {
	h.kind = kindReply
	buf = beginFrame(buf, h)
	buf = append(buf, status)
	buf = append(buf, payload...)
	finishFrame(buf, 0, 0)
	return buf
}

// decodeReply decodes a kindReply body. payload aliases body.
func decodeReply(body []byte) (status uint8, payload []byte, err error) {
	if len(body) < 1 {
		return 0, nil, fmt.Errorf("%w: empty reply", ErrBadFrame)
	}
	if body[0] > maxReplyStatus {
		return 0, nil, fmt.Errorf("%w: reply status %d", ErrBadFrame, body[0])
	}
	return body[0], body[1:], nil
}

// callRequest is a Call's frame as fastrpc writes it.
type callRequest struct{ buf []byte }

// WriteRequest implements fastrpc.RequestWriter.
//
// NB: fastrpc registers a request as awaiting its answer only after
// WriteRequest returns, and a write larger than its buffer goes straight
// to the socket. A quick callee could then answer before the registration
// and fastrpc would drop the answer (the call would hang to its deadline;
// the snapshot path hit this). Writing the last byte separately leaves it
// in the buffer until fastrpc flushes, which is after the registration,
// and the callee cannot read a frame without its last byte.
func (r *callRequest) WriteRequest(bw *bufio.Writer) error {
	n := len(r.buf)
	if _, err := bw.Write(r.buf[:n-1]); err != nil {
		return err
	}
	_, err := bw.Write(r.buf[n-1:])
	return err
}

// callReply reads a kindReply frame as fastrpc's ResponseReader. Frames are
// checked like every other: length before allocating, CRC32C, cluster,
// destination (this node) and sender (the called peer).
type callReply struct {
	t       *Transport
	peer    raftpb.NodeID
	status  uint8
	payload []byte
}

// ReadResponse implements fastrpc.ResponseReader. An error tears the call
// connection down (failing the calls waiting on it); it is logged and
// counted here.
func (r *callReply) ReadResponse(br *bufio.Reader) error {
	err := r.read(br)
	if err != nil {
		r.t.rejectFrame(nil, fmt.Errorf("reply from node %d: %w", r.peer, err))
	}
	return err
}

func (r *callReply) read(br *bufio.Reader) error {
	b, err := readFrame(br, r.t.opts.MaxFrameBytes)
	if err != nil {
		return err
	}
	h, body, err := parseHeader(b, r.t.opts.ClusterID, r.t.opts.NodeID)
	if err != nil {
		return err
	}
	if h.kind != kindReply || h.from != r.peer {
		return fmt.Errorf("%w: kind %d from node %d on the call connection to node %d", ErrBadFrame, h.kind, h.from, r.peer)
	}
	r.status, r.payload, err = decodeReply(body)
	return err
}
