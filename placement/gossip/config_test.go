package gossip

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{BindAddr: "127.0.0.1:0", Meta: testMeta(1), Profile: Loopback}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no bind address", func(c *Config) { c.BindAddr = "" }},
		{"bind without port", func(c *Config) { c.BindAddr = "127.0.0.1" }},
		{"bind to a hostname", func(c *Config) { c.BindAddr = "localhost:0" }},
		{"bind port out of range", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "example.com:1" }},
		{"node ID 0", func(c *Config) { c.Meta.NodeID = 0 }},
		{"bad raft address", func(c *Config) { c.Meta.RaftAddr = "nowhere" }},
		{"meta too large", func(c *Config) { c.Meta.HTTPAddr = "h:" + strings.Repeat("1", 600) }},
		{"unknown profile", func(c *Config) { c.Profile = 9 }},
		{"short key", func(c *Config) { c.SecretKey = []byte("short") }},
	} {
		c := good
		tc.edit(&c)
		g, err := New(c)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", tc.name, err)
		}
		if g != nil {
			_ = g.Shutdown()
		}
	}
}

func TestNewReportsBusyPort(t *testing.T) {
	a := startNode(t, testMeta(1), nil)
	_, err := New(Config{BindAddr: a.Addr(), Meta: testMeta(2), Profile: Loopback})
	if err == nil || errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New on a busy port = %v, want a listen error", err)
	}
}

func TestProfiles(t *testing.T) {
	lan, def := baseConfig(LAN), memberlist.DefaultLANConfig()
	if lan.ProbeInterval != def.ProbeInterval || lan.SuspicionMult != def.SuspicionMult || lan.GossipInterval != def.GossipInterval || lan.PushPullInterval != def.PushPullInterval {
		t.Errorf("LAN profile departs from memberlist's LAN defaults: %+v", lan)
	}
	for _, p := range []Profile{LAN, Loopback} {
		if c := baseConfig(p); c.DeadNodeReclaimTime <= 0 {
			t.Errorf("%v: DeadNodeReclaimTime %v: a restarted node on a new port would be ignored", p, c.DeadNodeReclaimTime)
		}
	}
	if lb := baseConfig(Loopback); lb.ProbeInterval >= lan.ProbeInterval || lb.PushPullInterval >= lan.PushPullInterval {
		t.Errorf("Loopback is not faster than LAN: %+v", lb)
	}
	if LAN.String() != "lan" || Loopback.String() != "loopback" || Profile(5).String() != "profile(5)" {
		t.Error("Profile.String")
	}
	for s, want := range map[State]string{Alive: "alive", Suspect: "suspect", Dead: "dead", Left: "left", 7: "state(7)"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), s.String(), want)
		}
	}
}
