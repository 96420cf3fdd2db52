package gossip

import (
	"net"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func mlNode(t *testing.T, name string, m Meta) *memberlist.Node {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 9, Meta: b}
}

// The alive delegate is the second line of defence behind memberlist's
// cluster label: it keeps out nodes that carry the right label but do not
// belong.
func TestAliveDelegateRefusesStrangers(t *testing.T) {
	n := startNode(t, testMeta(1), nil)
	d := delegate{n.Gossip}
	if err := d.NotifyAlive(mlNode(t, "node-2", testMeta(2))); err != nil {
		t.Errorf("a member of the cluster refused: %v", err)
	}
	foreign := testMeta(2)
	foreign.ClusterID++
	misnamed := testMeta(3)
	for _, tc := range []struct {
		name string
		node *memberlist.Node
		want string
	}{
		{"other cluster", mlNode(t, "node-2", foreign), "cluster"},
		{"name not from its node ID", mlNode(t, "node-2", misnamed), "advertises node ID 3"},
		{"undecodable meta", &memberlist.Node{Name: "node-2", Meta: []byte{1, 2}}, "invalid node meta"},
		{"no meta", &memberlist.Node{Name: "node-2"}, "invalid node meta"},
	} {
		err := d.NotifyAlive(tc.node)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NotifyAlive = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
		if err := d.NotifyMerge([]*memberlist.Node{tc.node}); err == nil {
			t.Errorf("%s: NotifyMerge accepted it", tc.name)
		}
	}
	// Events about such nodes are dropped, never reported.
	d.NotifyJoin(mlNode(t, "node-2", foreign))
	if _, ok := n.Member(2); ok {
		t.Error("a join event of a foreign node was recorded")
	}
}
