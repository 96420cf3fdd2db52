package gossip

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// Profile picks memberlist's timers. The numbers are in the package doc.
type Profile int

const (
	// LAN is memberlist's DefaultLANConfig, plus a dead-node reclaim time
	// so restarted nodes can change address: for real clusters. The zero
	// value.
	LAN Profile = iota
	// Loopback has fast probe, gossip and suspicion timers so that tests
	// on one machine see a failed node as Dead within about 1-2 s. It
	// sends far more packets than LAN: never use it across a network.
	Loopback
)

// String returns the profile's name.
func (p Profile) String() string {
	switch p {
	case LAN:
		return "lan"
	case Loopback:
		return "loopback"
	default:
		return fmt.Sprintf("profile(%d)", int(p))
	}
}

// Config configures a Gossip. New copies it; the zero values of the
// optional fields are their defaults.
type Config struct {
	// BindAddr is the "ip:port" to listen on, TCP and UDP. Port 0 picks
	// a free port ([Gossip.Addr] reports it). Required; the host must be
	// an IP address ("0.0.0.0" listens on every interface).
	BindAddr string
	// AdvertiseAddr is the "ip:port" other nodes reach this one at, when
	// it differs from BindAddr (NAT, or BindAddr on 0.0.0.0). Port 0
	// means the bound port. Optional.
	AdvertiseAddr string
	// Meta is what this node advertises. Meta.NodeID must be set; it names
	// the memberlist node, so a restarted node with the same ID replaces
	// its previous incarnation.
	Meta Meta
	// Profile picks the timers: LAN (default) or Loopback.
	Profile Profile
	// SecretKey, if set, encrypts and authenticates gossip (AES-GCM); it
	// must be 16, 24 or 32 bytes and equal on every node.
	SecretKey []byte
	// Logger receives memberlist's log lines (mapped to slog levels) and
	// this package's. Default: discard.
	Logger *slog.Logger
	// Events are the membership callbacks.
	Events Events

	// transport, when set, replaces memberlist's network transport (the
	// tests cut links with it).
	transport memberlist.Transport
}

// validate checks c and returns the parsed bind and advertise addresses.
func (c *Config) validate() (bindIP string, bindPort int, advIP string, advPort int, err error) {
	bindIP, bindPort, err = splitIPPort(c.BindAddr)
	if err != nil {
		return "", 0, "", 0, fmt.Errorf("%w: bind address: %v", ErrInvalidConfig, err)
	}
	if c.AdvertiseAddr != "" {
		advIP, advPort, err = splitIPPort(c.AdvertiseAddr)
		if err != nil {
			return "", 0, "", 0, fmt.Errorf("%w: advertise address: %v", ErrInvalidConfig, err)
		}
	}
	if err := c.Meta.Validate(); err != nil {
		return "", 0, "", 0, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.Profile != LAN && c.Profile != Loopback {
		return "", 0, "", 0, fmt.Errorf("%w: unknown profile %d", ErrInvalidConfig, int(c.Profile))
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return "", 0, "", 0, fmt.Errorf("%w: secret key of %d bytes (want 16, 24 or 32)", ErrInvalidConfig, len(c.SecretKey))
	}
	return bindIP, bindPort, advIP, advPort, nil
}

// splitIPPort parses "ip:port".
func splitIPPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %v", s, err)
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q: host must be an IP address", s)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("%q: bad port", s)
	}
	return host, int(p), nil
}

// nodeName is the memberlist name of a node: derived from its ID only, so
// every incarnation of a node has the same name.
func nodeName(id raftpb.NodeID) string { return "node-" + strconv.FormatUint(uint64(id), 10) }

// clusterLabel is memberlist's packet and stream label for a cluster:
// memberlist drops traffic whose label differs, so clusters never merge.
func clusterLabel(id uint64) string { return "flotilla-cluster-" + strconv.FormatUint(id, 10) }

// baseConfig returns memberlist's timers for p.
func baseConfig(p Profile) *memberlist.Config {
	if p == LAN {
		c := memberlist.DefaultLANConfig()
		c.DeadNodeReclaimTime = 10 * c.GossipInterval
		return c
	}
	c := memberlist.DefaultLocalConfig()
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 2
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = time.Second
	c.GossipToTheDeadTime = 2 * time.Second
	c.DeadNodeReclaimTime = 10 * c.GossipInterval
	return c
}
