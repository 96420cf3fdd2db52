package transport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
	"github.com/klauspost/compress/s2"
)

// Chunk flags.
const (
	chunkFirst uint8 = 1 << iota
	chunkLast
)

// chunk is one decoded snapshot chunk (the body of a kindChunk frame).
type chunk struct {
	stream uint64
	seq    uint64
	flags  uint8
	msg    raftpb.Message // first chunk only: the MsgSnap (metadata, no data)
	size   uint64         // last chunk only: total uncompressed bytes
	crc    uint32         // last chunk only: CRC32C of all uncompressed bytes
	data   []byte         // s2 block; aliases the frame buffer
}

// appendChunk appends c's body: stream, seq, flags, [message], [size,
// crc], s2 payload length and bytes.
func appendChunk(b []byte, c *chunk) []byte {
	b = binary.AppendUvarint(b, c.stream)
	b = binary.AppendUvarint(b, c.seq)
	b = append(b, c.flags)
	if c.flags&chunkFirst != 0 {
		b = appendMessage(b, &c.msg)
	}
	if c.flags&chunkLast != 0 {
		b = binary.AppendUvarint(b, c.size)
		b = binary.LittleEndian.AppendUint32(b, c.crc)
	}
	b = binary.AppendUvarint(b, uint64(len(c.data)))
	return append(b, c.data...)
}

// decodeChunk decodes a chunk body and checks the payload would not
// decompress to more than maxRaw bytes.
func decodeChunk(body []byte, maxRaw int) (chunk, error) {
	var c chunk
	d := decoder{b: body}
	c.stream = d.uvarint("stream")
	c.seq = d.uvarint("seq")
	c.flags = d.byte("chunk flags")
	if d.err == nil && c.flags&^(chunkFirst|chunkLast) != 0 {
		d.fail("chunk flags")
	}
	if c.flags&chunkFirst != 0 {
		decodeMessage(&d, &c.msg, nil, 0)
		if d.err == nil && (c.msg.Type != raftpb.MsgSnap || c.msg.Snapshot == nil) {
			d.fail("first chunk without MsgSnap")
		}
	}
	if c.flags&chunkLast != 0 {
		c.size = d.uvarint("size")
		if crc := d.bytes(4, "crc"); d.err == nil {
			c.crc = binary.LittleEndian.Uint32(crc)
		}
	}
	c.data = d.bytes(d.count("payload length", 1), "payload")
	if d.err != nil {
		return c, d.err
	}
	if d.off != len(body) {
		return c, fmt.Errorf("%w: %d trailing chunk bytes", ErrBadFrame, len(body)-d.off)
	}
	if n, err := s2.DecodedLen(c.data); err != nil || n > maxRaw {
		return c, fmt.Errorf("%w: chunk payload decodes to %d bytes (max %d): %v", ErrBadFrame, n, maxRaw, err)
	}
	return c, nil
}

// Acknowledgement statuses.
const (
	ackOK        uint8 = 0 // chunk stored (last chunk: snapshot installed)
	ackRefused   uint8 = 1 // stream unknown, out of order or too many: restart later
	ackRejected  uint8 = 2 // complete and verified, but the Handler refused it
	ackCorrupt   uint8 = 3 // size or checksum mismatch: restart
	maxAckLength       = 4096
)

// chunkAck is the response to a chunk: [u32 length][status][message].
type chunkAck struct {
	status uint8
	msg    string
}

func (a *chunkAck) append(b []byte) []byte {
	msg := a.msg
	if len(msg) > maxAckLength-1 {
		msg = msg[:maxAckLength-1]
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(1+len(msg)))
	b = append(b, a.status)
	return append(b, msg...)
}

// ReadResponse implements fastrpc.ResponseReader.
func (a *chunkAck) ReadResponse(br *bufio.Reader) error {
	var n [4]byte
	if _, err := io.ReadFull(br, n[:]); err != nil {
		return fmt.Errorf("%w: ack: %w", ErrBadFrame, err)
	}
	l := binary.LittleEndian.Uint32(n[:])
	if l < 1 || l > maxAckLength {
		return fmt.Errorf("%w: ack length %d", ErrBadFrame, l)
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(br, b); err != nil {
		return fmt.Errorf("%w: ack: %w", ErrBadFrame, err)
	}
	a.status, a.msg = b[0], string(b[1:])
	return nil
}
