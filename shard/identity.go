package shard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// identityFile names the file in a store's directory that says which node
// of which cluster the directory belongs to.
const identityFile = "IDENTITY"

// ErrWrongDirectory: the data directory belongs to another node ID or
// cluster. Not retryable: the operator gave the wrong directory or ID.
var ErrWrongDirectory = errors.New("shard: data directory belongs to another node")

// checkIdentity makes sure dir is this node's: it writes the identity
// file on first use and compares it on every later open.
//
// Why: a directory holds Raft state (the votes cast, the log) recorded
// under one node ID. Opened under another ID, the node would campaign
// and vote with a history that is not its own, and a peer's votes could
// count twice: two leaders in one term. Nothing else in the directory
// records the ID, so it is kept here.
func checkIdentity(dir string, node raftpb.NodeID, cluster uint64) error {
	path := filepath.Join(dir, identityFile)
	want := fmt.Sprintf("node %d cluster %d\n", node, cluster)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return writeIdentity(dir, path, want)
	case err != nil:
		return fmt.Errorf("shard: reading %s: %w", path, err)
	case string(b) == want:
		return nil
	}
	var n, c uint64
	if _, err := fmt.Sscanf(string(b), "node %d cluster %d\n", &n, &c); err != nil {
		return fmt.Errorf("%w: %s holds %q, not a node and cluster ID", ErrWrongDirectory, path, strings.TrimSpace(string(b)))
	}
	return fmt.Errorf("%w: %s belongs to node %d of cluster %d, not to node %d of cluster %d (its %s file says so)",
		ErrWrongDirectory, dir, n, c, node, cluster, identityFile)
}

// writeIdentity writes the identity file durably (temporary file, fsync,
// rename, directory fsync), so a crash leaves it whole or absent.
func writeIdentity(dir, path, content string) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err == nil {
		_, err = f.WriteString(content)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(dir); err == nil {
			err = d.Sync()
			_ = d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("shard: writing %s: %w", path, err)
	}
	return nil
}
