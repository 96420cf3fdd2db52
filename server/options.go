package server

import (
	"errors"
	"fmt"
	"github.com/flotilladb/flotilla/placement"
	"log/slog"
	"time"

	"github.com/flotilladb/flotilla/shard"
)

// Defaults of Options; zero fields take these.
const (
	DefaultClientAddr      = "127.0.0.1:6379"
	DefaultHTTPAddr        = "127.0.0.1:7379"
	DefaultMaxKeyBytes     = 16 << 10
	DefaultMaxValueBytes   = 4 << 20
	DefaultScanCount       = 10
	DefaultMaxScanCount    = 10000
	DefaultMaxCursors      = 4096
	DefaultShutdownTimeout = 5 * time.Second
	DefaultMaxClients      = 10000
	DefaultMaxRequestBytes = 64 << 20
)

// Options configures a Server. Zero values take the documented defaults;
// New copies the Options.
type Options struct {
	// Store is the node store the server serves. Required. The server
	// does not close it.
	Store *shard.Store
	// ClientAddr is the RESP (Redis protocol) listen address. Default
	// 127.0.0.1:6379; "127.0.0.1:0" picks a free port (see Server.ClientAddr).
	ClientAddr string
	// HTTPAddr is the admin API, /metrics, pprof and health listen
	// address. Default 127.0.0.1:7379.
	HTTPAddr string
	// Password, when set, must be given with AUTH before any other RESP
	// command is served. Default: none (no AUTH needed).
	Password string
	// MaxClients bounds the open RESP connections; one more is answered
	// "ERR max number of clients reached" and closed. Default 10000.
	MaxClients int
	// MaxBulkBytes bounds one argument of a RESP command. A longer one is
	// refused when its length is read, before any of it is buffered: the
	// client gets "ERR Protocol error: invalid bulk length" and the
	// connection is closed. Default: twice the larger of MaxKeyBytes and
	// MaxValueBytes, so an argument a little over those limits is still
	// read and gets its command's own error on an open connection.
	MaxBulkBytes int
	// MaxRequestBytes bounds one RESP command's whole encoding; a larger
	// one is refused as it is read, like a long argument ("ERR Protocol
	// error: request too large", connection closed). Default 64 MiB, and
	// at least MaxBulkBytes plus room for the command around it.
	MaxRequestBytes int
	// MaxKeyBytes bounds a key; longer keys are refused with an error.
	// Default 16 KiB.
	MaxKeyBytes int
	// MaxValueBytes bounds a value; larger values are refused. Default
	// 4 MiB (the store's own MaxProposalBytes bounds a whole command).
	MaxValueBytes int
	// ScanCount is SCAN's COUNT when none is given. Default 10.
	ScanCount int
	// MaxScanCount bounds SCAN's COUNT and the HTTP scan limit. Default
	// 10000.
	MaxScanCount int
	// MaxCursors bounds the SCAN cursors the server remembers; the oldest
	// are forgotten first. Default 4096.
	MaxCursors int
	// ShutdownTimeout bounds how long Close waits for HTTP requests in
	// flight. Default 5s.
	ShutdownTimeout time.Duration
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Version is reported by INFO and /api/status. Default "dev".
	Version string
	// Cluster supplies the cluster view of GET /api/cluster and the
	// dashboard. Default (nil): the view from the local store (see
	// ClusterSource); the placement layer supplies its own.
	Cluster ClusterSource
	// Placement, when set, is the node's placement layer: it supplies the
	// default Cluster and serves the admin API (server/placement.go).
	Placement *placement.Node
	// Liveness, when set, gives the store's cluster view (the default
	// Cluster, and Server.StoreCluster) its peers' states; hook it to the
	// store's transport with Liveness.Watch. Default: none, peers are
	// reported live.
	Liveness *Liveness
	// LeaseReads makes GET, MGET and EXISTS read with shard.Lease
	// consistency: served from the shard leader's lease, without a
	// heartbeat round, when the store has shard.Options.LeaseReads (else
	// they are confirmed by a heartbeat round, as by default). Lease reads
	// are linearizable only while the nodes' clocks run at rates within
	// the bound raftgroup's doc states. Default off.
	LeaseReads bool
}

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *Options) EnsureDefaults() *Options {
	setDefault(&o.ClientAddr, DefaultClientAddr)
	setDefault(&o.HTTPAddr, DefaultHTTPAddr)
	setDefault(&o.Version, "dev")
	setDefault(&o.MaxKeyBytes, DefaultMaxKeyBytes)
	setDefault(&o.MaxValueBytes, DefaultMaxValueBytes)
	setDefault(&o.ScanCount, DefaultScanCount)
	setDefault(&o.MaxScanCount, DefaultMaxScanCount)
	setDefault(&o.MaxCursors, DefaultMaxCursors)
	setDefault(&o.MaxClients, DefaultMaxClients)
	setDefault(&o.MaxBulkBytes, 2*max(o.MaxKeyBytes, o.MaxValueBytes))
	setDefault(&o.MaxRequestBytes, max(DefaultMaxRequestBytes, o.MaxBulkBytes+2*o.MaxKeyBytes+1024))
	setDefault(&o.ShutdownTimeout, DefaultShutdownTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	if o.Store == nil {
		return errors.New("server: Options.Store is required")
	}
	return o.validateLimits()
}

// validateLimits checks every field but Store, so that OpenNode can refuse
// bad options before it creates or opens anything on disk.
func (o *Options) validateLimits() error {
	switch {
	case o.MaxKeyBytes < 0 || o.MaxValueBytes < 0:
		return errors.New("server: MaxKeyBytes and MaxValueBytes must not be negative")
	case o.ScanCount < 1 || o.MaxScanCount < o.ScanCount:
		return fmt.Errorf("server: ScanCount %d must be in [1, MaxScanCount %d]", o.ScanCount, o.MaxScanCount)
	case o.MaxClients < 1:
		return fmt.Errorf("server: MaxClients %d must be positive", o.MaxClients)
	case o.MaxBulkBytes < max(o.MaxKeyBytes, o.MaxValueBytes):
		return fmt.Errorf("server: MaxBulkBytes %d is below MaxKeyBytes %d or MaxValueBytes %d", o.MaxBulkBytes, o.MaxKeyBytes, o.MaxValueBytes)
	case o.MaxRequestBytes < o.MaxBulkBytes:
		return fmt.Errorf("server: MaxRequestBytes %d is below MaxBulkBytes %d", o.MaxRequestBytes, o.MaxBulkBytes)
	case o.MaxCursors < 1:
		return fmt.Errorf("server: MaxCursors %d must be positive", o.MaxCursors)
	}
	return nil
}

// String prints the effective options (the password is never shown).
func (o *Options) String() string {
	return fmt.Sprintf("client=%s http=%s auth=%v max_clients=%d max_key=%d max_value=%d max_bulk=%d max_request=%d scan_count=%d max_scan=%d cursors=%d",
		o.ClientAddr, o.HTTPAddr, o.Password != "", o.MaxClients, o.MaxKeyBytes, o.MaxValueBytes, o.MaxBulkBytes, o.MaxRequestBytes,
		o.ScanCount, o.MaxScanCount, o.MaxCursors)
}
