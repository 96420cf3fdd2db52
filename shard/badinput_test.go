package shard

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// TestBadInputForwarded hands a store's call handler (what the transport
// calls with a peer's bytes) forwarded requests that are malformed or
// name a shard it does not host: each is answered with an error the
// caller decodes, and nothing changes in the store.
func TestBadInputForwarded(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	waitLeaders(t, s)
	ctx := context.Background()
	if err := s.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	id := s.Shards()[0].Desc.ID
	req := func(kind byte, shard ShardID, parts ...[]byte) []byte {
		return forwardRequest{kind: kind, shard: shard, parts: parts}.marshal()
	}
	good := req(fwdRead, id, []byte("k"))
	cases := []struct {
		name string
		in   []byte
		want error // errors.Is; nil: a message containing says
		says string
	}{
		{"empty", nil, nil, "malformed forwarded request"},
		{"wrong_version", append([]byte{fwdVersion + 1}, good[1:]...), nil, "malformed forwarded request"},
		{"unknown_kind", append([]byte{fwdVersion, 99}, good[2:]...), nil, "malformed forwarded request"},
		{"unknown_consistency", append([]byte{fwdVersion, fwdRead, 99}, good[3:]...), nil, "malformed forwarded request"},
		{"truncated", good[:len(good)-1], nil, "malformed forwarded request"},
		{"trailing_bytes", append(bytes.Clone(good), 0), nil, "malformed forwarded request"},
		{"too_many_parts", req(fwdRead, id, nil, nil, nil, nil, nil), nil, "malformed forwarded request"},
		{"wrong_part_count", req(fwdRead, id, []byte("k"), []byte("x")), nil, "malformed forwarded request"},
		{"scan_limit_zero", req(fwdScan, id, nil, nil, []byte{0}), nil, "malformed forwarded request"},
		{"admin_empty", req(fwdAdmin, id, nil), nil, "malformed forwarded request"},
		{"node_op_unknown", req(fwdNode, 0, []byte{250}), nil, "malformed forwarded request"},
		{"shard_not_here", req(fwdRead, id+1000, []byte("k")), ErrNoShard, ""},
		{"read_many_no_keys", req(fwdReadMany, id), nil, "malformed forwarded request"},
		{"read_many_too_many_keys", req(fwdReadMany, id, make([][]byte, MaxGetManyKeys+1)...), nil, "4097 parts, at most 4096"},
		// A count of 4,000 keys followed by 3 bytes: refused before
		// anything is allocated for the keys.
		{"read_many_count_past_end", append(binary.AppendUvarint([]byte{fwdVersion, fwdReadMany, 0}, uint64(id)), 0xa0, 0x1f, 1, 'k', 0), nil, "4000 parts in 3 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAnswer(id, s.HandleCall(ctx, 2, tc.in))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("answer error %v; want %v %q", err, tc.want, tc.says)
			}
			t.Log(err)
		})
	}
	// A well-formed read of several keys is answered with each key's
	// value, in order.
	t.Run("read_many", func(t *testing.T) {
		out, err := decodeAnswer(id, s.HandleCall(ctx, 2, req(fwdReadMany, id, []byte("absent"), []byte("k"))))
		if err != nil {
			t.Fatal(err)
		}
		vals, found, err := decodeValues(out, 2)
		if err != nil || found[0] || !found[1] || string(vals[1]) != "v" {
			t.Fatalf("values %q %v, %v", vals, found, err)
		}
	})
	// A forwarded write whose command does not decode is applied as
	// nothing: the answer is a result with StatusBadCommand.
	t.Run("command_not_decodable", func(t *testing.T) {
		out, err := decodeAnswer(id, s.HandleCall(ctx, 2, req(fwdPropose, id, []byte{0xff, 0xfe, 0xfd})))
		if err != nil {
			t.Fatal(err)
		}
		if res, err := DecodeResult(out); err != nil || res.Status != StatusBadCommand {
			t.Fatalf("result %+v, %v; want StatusBadCommand", res, err)
		}
	})
	if v, found, err := s.Get(ctx, []byte("k")); err != nil || !found || string(v) != "v" {
		t.Fatalf("k = %q %v %v after bad forwarded requests", v, found, err)
	}
}

// TestBadInputDataDirectory opens a store on a directory another node ID
// or cluster wrote, or whose identity file is garbage: Open fails with
// ErrWrongDirectory naming the directory and both identities, and the
// directory is left as it was.
func TestBadInputDataDirectory(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		node    raftpb.NodeID
		cluster uint64
		says    string
	}{
		{"other_node", 2, 1, "belongs to node 1 of cluster 1, not to node 2 of cluster 1"},
		{"other_cluster", 1, 9, "belongs to node 1 of cluster 1, not to node 1 of cluster 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), Options{Dir: dir, NodeID: tc.node, ClusterID: tc.cluster,
				Peers: map[raftpb.NodeID]string{1: "127.0.0.1:1", 2: "127.0.0.1:1"}, ListenAddr: "127.0.0.1:0"})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, ErrWrongDirectory) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Open: %v; want ErrWrongDirectory saying %q", err, tc.says)
			}
		})
	}
	t.Run("garbage_identity", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, identityFile), []byte("who knows"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(context.Background(), Options{Dir: dir})
		if !errors.Is(err, ErrWrongDirectory) || !strings.Contains(err.Error(), `"who knows"`) {
			t.Fatalf("Open: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, identityFile), []byte("node 1 cluster 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	// The right node still opens it, with its data.
	s = openTest(t, dir)
	defer s.Close()
	if ids := len(s.Shards()); ids == 0 {
		t.Fatal("no shards after reopening")
	}
}
