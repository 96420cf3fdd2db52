package gossip

import (
	"encoding/binary"
	"fmt"
	"net"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// MaxMetaBytes is the largest encoded Meta: memberlist's limit on node
// metadata. memberlist panics on anything longer, so [Meta.MarshalBinary]
// refuses it with an error instead.
const MaxMetaBytes = memberlist.MetaMaxSize

// metaVersion is the version byte that starts every encoded Meta.
const metaVersion = 1

// Flag bits of the encoded Meta.
const (
	flagDraining = 1 << 0
	// flagLeaving is set by [Gossip.Leave] just before memberlist's leave
	// message: it is how peers tell a graceful leave from a failure (see
	// the package doc).
	flagLeaving = 1 << 1
)

// Meta is what a node advertises to the cluster through gossip.
type Meta struct {
	// NodeID names the node. Invariant: not 0, and equal on every
	// incarnation of the node (it also names the memberlist node).
	NodeID raftpb.NodeID
	// ClusterID names the cluster. Nodes of another cluster are never
	// reported.
	ClusterID uint64
	// RaftAddr is the transport address ("host:port") Raft traffic goes to.
	RaftAddr string
	// ClientAddr is the client (RESP) address, "" if none.
	ClientAddr string
	// HTTPAddr is the admin HTTP address, "" if none.
	HTTPAddr string
	// Capacity is the space available for data, in bytes; 0 means unknown.
	Capacity uint64
	// Draining is set while the node is being emptied of replicas.
	Draining bool

	// leaving is only on the wire (see flagLeaving); it is never visible
	// in a reported Member.
	leaving bool
}

// Validate reports whether m can be advertised: NodeID set, addresses
// empty or "host:port" of valid UTF-8, and an encoding within
// MaxMetaBytes.
func (m Meta) Validate() error {
	_, err := m.MarshalBinary()
	return err
}

func (m Meta) check() error {
	if m.NodeID == 0 {
		return fmt.Errorf("%w: node ID 0", ErrInvalidMeta)
	}
	for _, a := range []struct{ name, v string }{
		{"raft address", m.RaftAddr}, {"client address", m.ClientAddr}, {"HTTP address", m.HTTPAddr},
	} {
		if a.v == "" {
			continue
		}
		if !utf8.ValidString(a.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidMeta, a.name)
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrInvalidMeta, a.name, a.v, err)
		}
	}
	return nil
}

// MarshalBinary encodes m (layout in the package doc). It fails, rather
// than truncating, if m is invalid or its encoding exceeds MaxMetaBytes.
func (m Meta) MarshalBinary() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	n := 1 + 3*binary.MaxVarintLen64 + 1 + len(m.RaftAddr) + len(m.ClientAddr) + len(m.HTTPAddr) + 3*binary.MaxVarintLen64
	b := make([]byte, 0, n)
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, uint64(m.NodeID))
	b = binary.AppendUvarint(b, m.ClusterID)
	var flags byte
	if m.Draining {
		flags |= flagDraining
	}
	if m.leaving {
		flags |= flagLeaving
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, m.Capacity)
	for _, s := range []string{m.RaftAddr, m.ClientAddr, m.HTTPAddr} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if len(b) > MaxMetaBytes {
		return nil, fmt.Errorf("%w: encoding is %d bytes, the limit is %d", ErrMetaTooLarge, len(b), MaxMetaBytes)
	}
	return b, nil
}

// UnmarshalBinary decodes b into m. Bad input (truncated, overlong
// varints, lengths past the end, trailing bytes in a version-1 encoding,
// an unknown version, or contents Validate refuses) returns an error
// wrapping ErrInvalidMeta; it never panics. An encoding with a version
// above 1 is read by its version-1 prefix: later versions only append.
func (m *Meta) UnmarshalBinary(b []byte) error {
	d := metaDecoder{b: b}
	if len(b) > MaxMetaBytes {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidMeta, len(b), MaxMetaBytes)
	}
	version := d.byte()
	if d.err == nil && version == 0 {
		return fmt.Errorf("%w: version 0", ErrInvalidMeta)
	}
	var out Meta
	out.NodeID = raftpb.NodeID(d.uvarint())
	out.ClusterID = d.uvarint()
	flags := d.byte()
	out.Draining = flags&flagDraining != 0
	out.leaving = flags&flagLeaving != 0
	out.Capacity = d.uvarint()
	out.RaftAddr = d.string()
	out.ClientAddr = d.string()
	out.HTTPAddr = d.string()
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMeta, d.err)
	}
	if version == metaVersion && len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrInvalidMeta, len(d.b))
	}
	if err := out.check(); err != nil {
		return err
	}
	*m = out
	return nil
}

// metaDecoder reads fields from b; the first error sticks and later reads
// return zero values.
type metaDecoder struct {
	b   []byte
	err error
}

func (d *metaDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *metaDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *metaDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("string of %d bytes past the end (%d left)", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
