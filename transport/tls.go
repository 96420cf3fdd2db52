package transport

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// tlsConfigs loads the node certificate and the CA and builds the server
// and client sides of mutual TLS: each side presents its certificate and
// requires the other's to chain to the CA. TLS runs below fastrpc (the
// listener and dialer wrap the TCP connection), not through fastrpc's own
// TLSConfig, because a fastrpc server with TLS configured still accepts
// plaintext clients.
func tlsConfigs(o *TLSOptions) (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: load TLS key pair: %w", err)
	}
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("transport: no certificate in CA file %s", o.CAFile)
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   o.ServerName,
		MinVersion:   tls.VersionTLS13,
	}
	return server, client, nil
}
