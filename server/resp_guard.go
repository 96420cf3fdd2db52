package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// Limits of the RESP framing that are not options: Redis's own.
const (
	// maxRESPArgs bounds the element count of one command's array.
	maxRESPArgs = 1 << 20
	// maxInlineBytes bounds one inline command line (as telnet sends).
	maxInlineBytes = 64 << 10
	// maxHeaderLine bounds an array or bulk length line ("*" or "$", 19
	// digits of int64, CR): longer cannot be a valid length.
	maxHeaderLine = 21
	// guardWriteTimeout bounds the write of the error line to a client
	// whose input broke the framing.
	guardWriteTimeout = time.Second
	// guardLinger and guardLingerBytes bound the input drained after the
	// error line (see lingerClose).
	guardLinger      = time.Second
	guardLingerBytes = 64 << 20
)

// errRESPProtocol marks input the guard refused. Redcon closes the
// connection when a read returns it.
var errRESPProtocol = errors.New("RESP protocol error")

// guardListener wraps the RESP listener so that every connection's input
// passes through a framer before redcon reads it.
//
// Why: redcon buffers a whole command before handing it over, with no
// bound on an argument's declared length or an inline line, and it adds
// a declared bulk length to an index unchecked: "$9223372036854775807"
// overflows and panics the reader goroutine, which ends the process.
// The framer checks every length as it goes past and refuses the
// connection before the bytes pile up, so redcon only ever sees framing
// it handles.
type guardListener struct {
	net.Listener
	lim      respLimits
	rejected func() // counts a refused connection
}

// respLimits are the bounds a framer enforces.
type respLimits struct {
	maxBulk    int // one bulk string (argument)
	maxRequest int // one command: the array's whole encoding
}

// Accept implements net.Listener.
func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, f: respFramer{lim: l.lim}, rejected: l.rejected}, nil
}

// guardConn is a RESP connection whose input is checked by a framer.
type guardConn struct {
	net.Conn
	f        respFramer
	rejected func()
	// pending is the framing error found after bytes that were passed on:
	// the next Read reports it (so the replies to the commands before it
	// go out first).
	pending error
}

// Read implements net.Conn. Bytes up to the first byte that breaks the
// framing are returned; the next Read writes Redis's protocol error line
// and fails, and redcon closes the connection.
func (c *guardConn) Read(b []byte) (int, error) {
	if c.pending != nil {
		return 0, c.refuse()
	}
	n, err := c.Conn.Read(b)
	if n == 0 {
		return n, err
	}
	ok, perr := c.f.feed(b[:n])
	if perr == nil {
		return n, err
	}
	c.pending = perr
	if ok > 0 {
		return ok, nil
	}
	return 0, c.refuse()
}

// refuse tells the client why and fails the read.
func (c *guardConn) refuse() error {
	if c.rejected != nil {
		c.rejected()
		c.rejected = nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(guardWriteTimeout))
	_, _ = c.Conn.Write([]byte("-ERR Protocol error: " + c.pending.Error() + "\r\n"))
	c.lingerClose()
	return errRESPProtocol
}

// lingerClose half-closes the connection after the error line and drains
// what the client is still sending (bounded in time and bytes) before
// redcon closes it. Why: closing a socket with unread input makes the
// kernel send a reset, which can destroy the error line in the client's
// receive buffer before the client reads it; a client still writing an
// oversized argument would then see only "connection reset".
func (c *guardConn) lingerClose() {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(guardLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, guardLingerBytes))
}

// framer states.
const (
	frStart    = iota // at a command's first byte
	frInline          // inside an inline command line
	frArrayLen        // inside "*<count>\r\n"
	frBulkLen         // at or inside "$<len>\r\n"
	frBulkBody        // inside a bulk string's bytes
	frBulkCR          // at the CR after a bulk string
	frBulkLF          // at the LF after it
)

// respFramer follows the RESP framing of a connection's input across
// reads, as redcon parses it: a command starting with '*' is an array of
// bulk strings, anything else an inline line. It checks each length
// against its limit as soon as the length is read, and the framing bytes
// redcon would refuse too (with Redis's messages), so nothing it passes
// can make redcon buffer more than the limits or misbehave.
type respFramer struct {
	lim      respLimits
	state    int
	line     []byte // the length line being read
	inline   int    // bytes of the inline line so far
	args     int    // bulk strings still to come in this command
	body     int    // bytes of the bulk string still to come
	cmdBytes int    // bytes of the current command so far
}

// feed consumes b. It returns how many bytes are valid before the first
// one that breaks the framing or a limit, and the error for that byte
// (nil when all of b is valid).
func (f *respFramer) feed(b []byte) (int, error) {
	i := 0
	for i < len(b) {
		n, err := f.step(b[i:])
		if f.state != frStart && f.state != frInline {
			f.cmdBytes += n
			if err == nil && f.cmdBytes > f.lim.maxRequest {
				err = errors.New("request too large (max " + strconv.Itoa(f.lim.maxRequest) + " bytes)")
			}
		}
		if err != nil {
			return i, err
		}
		i += n
	}
	return len(b), nil
}

// step consumes a prefix of b (at least one byte) in the current state.
func (f *respFramer) step(b []byte) (int, error) {
	switch f.state {
	case frStart:
		f.cmdBytes = 0
		if b[0] == '*' {
			f.state, f.line = frArrayLen, f.line[:0]
			return 0, nil
		}
		f.state, f.inline = frInline, 0
		return 0, nil
	case frInline:
		j := bytes.IndexByte(b, '\n')
		n := len(b)
		if j >= 0 {
			n = j + 1
		}
		if f.inline += n; f.inline > maxInlineBytes+2 { // + CR LF
			return 0, errors.New("too big inline request")
		}
		if j >= 0 {
			f.state = frStart
		}
		return n, nil
	case frArrayLen:
		return f.lengthLine(b, func(v int, ok bool) error {
			if !ok || v <= 0 || v > maxRESPArgs {
				return errors.New("invalid multibulk length")
			}
			f.args, f.state, f.line = v, frBulkLen, f.line[:0]
			return nil
		}, "invalid multibulk length")
	case frBulkLen:
		if len(f.line) == 0 && b[0] != '$' {
			return 0, errors.New("expected '$', got '" + printable(b[0]) + "'")
		}
		return f.lengthLine(b, func(v int, ok bool) error {
			if !ok || v < 0 || v > f.lim.maxBulk {
				return errors.New("invalid bulk length")
			}
			f.body, f.state = v, frBulkBody
			return nil
		}, "invalid bulk length")
	case frBulkBody:
		n := min(f.body, len(b))
		if f.body -= n; f.body == 0 {
			f.state = frBulkCR
		}
		return n, nil
	case frBulkCR, frBulkLF:
		want := byte('\r')
		if f.state == frBulkLF {
			want = '\n'
		}
		if b[0] != want {
			return 0, errors.New("invalid bulk length")
		}
		if f.state == frBulkCR {
			f.state = frBulkLF
			return 1, nil
		}
		if f.args--; f.args > 0 {
			f.state, f.line = frBulkLen, f.line[:0]
		} else {
			f.state = frStart
		}
		return 1, nil
	}
	return 0, errors.New("framer in an unknown state")
}

// lengthLine collects a "*" or "$" line, its marker included, up to its
// LF, then hands the number to done (ok false: not a decimal number of at
// most 18 digits, so never negative nor overflowing). A line too long to
// hold a number, or without CR before LF, fails with msg.
func (f *respFramer) lengthLine(b []byte, done func(v int, ok bool) error, msg string) (int, error) {
	j := bytes.IndexByte(b, '\n')
	n := len(b)
	if j >= 0 {
		n = j + 1
	}
	if len(f.line)+n > maxHeaderLine+2 {
		return 0, errors.New(msg)
	}
	line := b[:n] // the whole line is in b: the common case, no copy
	if len(f.line) > 0 || j < 0 {
		f.line = append(f.line, b[:n]...)
		line = f.line
	}
	if j < 0 {
		return n, nil
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return 0, errors.New(msg)
	}
	v, ok := parseLength(line[1 : len(line)-2])
	if err := done(v, ok); err != nil {
		return 0, err
	}
	return n, nil
}

// parseLength parses 1 to 18 decimal digits (18 cannot overflow an int64).
func parseLength(d []byte) (int, bool) {
	if len(d) == 0 || len(d) > 18 {
		return 0, false
	}
	v := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// printable shows one byte in an error line.
func printable(c byte) string {
	if c < ' ' || c > '~' {
		return "\\x" + strconv.FormatUint(uint64(c), 16)
	}
	return string(c)
}
