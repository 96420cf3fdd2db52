package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flotilladb/flotilla/raftgroup/raftpb"
)

// testCA is a certificate authority generated for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, name+"-ca.pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue writes a node certificate (valid for 127.0.0.1, client and server
// use) and its key, returning TLSOptions for them.
func (ca *testCA) issue(t *testing.T, dir, name string) *TLSOptions {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	o := &TLSOptions{CertFile: filepath.Join(dir, name+".pem"), KeyFile: filepath.Join(dir, name+"-key.pem"), CAFile: ca.file}
	writePEM(t, o.CertFile, "CERTIFICATE", der)
	writePEM(t, o.KeyFile, "EC PRIVATE KEY", keyDER)
	return o
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLS: nodes with certificates from the cluster CA exchange
// messages and snapshots; a plaintext node and a node whose certificate
// comes from another CA deliver nothing.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "cluster")
	c := newCluster(t, 2, func(o *Options) { o.TLS = ca.issue(t, dir, "node"+string(rune('0'+o.NodeID))) })
	c.nodes[1].Send(msgApp(1, 1, 2, 1, 100))
	waitFor(t, "message over TLS", 10*time.Second, func() bool { return c.recs[2].count() == 1 })
	if err := c.nodes[1].SendSnapshot(t.Context(), snapMsg(1, 2), BytesSource("over tls")); err != nil {
		t.Fatalf("snapshot over TLS: %v", err)
	}
	if st := c.nodes[1].Status()[0]; !st.Connected || !st.SnapshotConnected {
		t.Fatalf("status %+v", st)
	}

	rogueCA := newTestCA(t, dir, "rogue")
	for name, tlsOpts := range map[string]*TLSOptions{
		"plaintext": nil,
		"other CA":  rogueCA.issue(t, dir, "rogue3"),
	} {
		intruder, err := New(Options{NodeID: 3, ClusterID: 7, ListenAddr: "127.0.0.1:0", Resolver: c.res, TLS: tlsOpts,
			Logger: quietLogger(), MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}, newRecorder())
		if err != nil {
			t.Fatal(err)
		}
		intruder.Send(msgApp(1, 3, 2, 1, 100))
		waitFor(t, name+": handshake failure", 10*time.Second, func() bool {
			st := intruder.Status()
			return len(st) == 1 && st[0].LastError != "" && intruder.Metrics().DialFailures > 0
		})
		if st := intruder.Status()[0]; st.Connected {
			t.Fatalf("%s: intruder connected: %+v", name, st)
		}
		intruder.Close()
	}
	if n := c.recs[2].count(); n != 1 {
		t.Fatalf("%d messages delivered, want only the one from the trusted node", n)
	}
}

func snapMsg(from, to raftpb.NodeID) raftpb.Message {
	return raftpb.Message{Type: raftpb.MsgSnap, Group: 42, From: from, To: to, Term: 3,
		Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 100, Term: 3,
			ConfState: raftpb.ConfState{Voters: []raftpb.NodeID{1, 2, 3}}}}}
}
