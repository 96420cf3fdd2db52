package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/logger"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dragonboat-bench:", err)
		os.Exit(1)
	}
}

// runConfig is what the flags say.
type runConfig struct {
	scenario              string
	groups, clients, size int
	duration              time.Duration
	dir                   string
	seed                  uint64
	settings              settings
	mem                   memLimits
	idleSettle            time.Duration
	cpuProfile            string
}

// warmup is the unmeasured time before each window (the main harness's).
func (c runConfig) warmup() time.Duration { return min(c.duration/10, 3*time.Second) }

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dragonboat-bench", flag.ContinueOnError)
	var cfg runConfig
	fs.StringVar(&cfg.scenario, "scenario", "write", "write, read (linearizable: SyncRead), stale (StaleRead) or idle")
	fs.IntVar(&cfg.groups, "groups", 1024, "shards (Raft groups) the key space is split into")
	fs.IntVar(&cfg.clients, "clients", 256, "concurrent clients, each with one request outstanding")
	fs.IntVar(&cfg.size, "size", 16, "value bytes")
	fs.DurationVar(&cfg.duration, "duration", 15*time.Second, "measured window (after a warm-up of a tenth of it, at most 3s)")
	fs.StringVar(&cfg.dir, "dir", "", "parent of the data directories (default: the system's temp dir)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the clients' random keys")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured window to this file")
	out := fs.String("out", "", "append the result's JSON line to this file as well")
	fs.Uint64Var(&cfg.settings.rttMS, "rtt-ms", 100, "NodeHostConfig.RTTMillisecond (the tick)")
	fs.Uint64Var(&cfg.settings.electionRTT, "election-rtt", 10, "Config.ElectionRTT (ticks)")
	fs.Uint64Var(&cfg.settings.heartbeatRTT, "heartbeat-rtt", 1, "Config.HeartbeatRTT (ticks)")
	fs.Uint64Var(&cfg.settings.execShards, "exec-shards", 4, "Expert.Engine.ExecShards (dragonboat's default: 16; 0 leaves the engine config at its default)")
	fs.BoolVar(&cfg.settings.checkQuorum, "check-quorum", false, "Config.CheckQuorum (dragonboat's default: off; Flotilla's groups run check-quorum, but with it dragonboat's leaders step down when a starved CPU delays heartbeats)")
	fs.BoolVar(&cfg.settings.preVote, "pre-vote", true, "Config.PreVote (Flotilla's groups run pre-vote)")
	fs.BoolVar(&cfg.settings.quiesce, "quiesce", false, "Config.Quiesce (dragonboat's default: off)")
	maxRSS := fs.Float64("max-rss-gib", 12, "stop starting replicas once the resident set passes this (GiB); 0: no limit")
	minAvail := fs.Float64("min-avail-gib", 3, "stop starting replicas once the machine's available memory falls below this (GiB)")
	fs.DurationVar(&cfg.mem.startTimeout, "start-timeout", 10*time.Minute, "give up starting replicas after this long (0: no bound); idle reports how far it got")
	fs.DurationVar(&cfg.idleSettle, "idle-settle", 0, "idle: wait this long after the leaders are known before measuring (default: 3s, or until quiesced with -quiesce)")
	verbose := fs.Bool("v", false, "show dragonboat's warnings (default: errors only)")
	ratios := fs.Bool("ratios", false, "instead of running, read JSON-lines files (the arguments) of both systems and print the medians and ratios")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ratios {
		return printRatios(stdout, fs.Args())
	}
	if cfg.groups < 1 || cfg.clients < 1 || cfg.size < 0 || cfg.duration <= 0 {
		return errors.New("-groups and -clients must be at least 1, -size at least 0, -duration positive")
	}
	cfg.mem.maxRSS, cfg.mem.minAvail = int64(*maxRSS*(1<<30)), int64(*minAvail*(1<<30))
	quietLogs(*verbose)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "dragonboat-bench: %s groups=%d clients=%d size=%d (%s): running (%v)\n",
		cfg.scenario, cfg.groups, cfg.clients, cfg.size, cfg.settings, time.Now().UTC().Format(time.TimeOnly))
	var res Result
	var err error
	switch cfg.scenario {
	case "write":
		res, err = runWrite(ctx, cfg)
	case "read", "stale":
		res, err = runRead(ctx, cfg)
	case "idle":
		res, err = runIdle(ctx, cfg)
	default:
		return fmt.Errorf("unknown scenario %q (want write, read, stale or idle)", cfg.scenario)
	}
	if err != nil {
		return err
	}
	settleDisk()
	res.System, res.Workload, res.Size = "dragonboat", cfg.scenario, cfg.size
	res.Groups, res.Clients = cfg.groups, cfg.clients
	if cfg.scenario == "idle" {
		res.Clients, res.Size = 0, 0
	}
	res.Config = cfg.settings.String()
	res.SetupSeconds = math.Round(res.SetupSeconds*10) / 10
	if err := writeJSONLine(stdout, res); err != nil {
		return err
	}
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		return writeJSONLine(f, res)
	}
	return nil
}

var setLoggerOnce sync.Once

// quietLogs routes dragonboat's logs to stderr, errors only unless
// verbose (it logs every shard's start and election at INFO).
func quietLogs(verbose bool) {
	setLoggerOnce.Do(func() {
		level := logger.ERROR
		if verbose {
			level = logger.WARNING
		}
		logger.SetLoggerFactory(func(pkg string) logger.ILogger { return &stderrLogger{pkg: pkg, level: level} })
	})
}

// stderrLogger is a dragonboat logger that prints what is at or above
// its level.
type stderrLogger struct {
	pkg   string
	mu    sync.Mutex
	level logger.LogLevel
}

func (l *stderrLogger) SetLevel(logger.LogLevel) {} // the harness decides
func (l *stderrLogger) logf(lv logger.LogLevel, format string, args ...any) {
	l.mu.Lock()
	on := lv <= l.level
	l.mu.Unlock()
	if on {
		fmt.Fprintf(os.Stderr, "dragonboat %s: %s\n", l.pkg, fmt.Sprintf(format, args...))
	}
}
func (l *stderrLogger) Debugf(f string, a ...any)   { l.logf(logger.DEBUG, f, a...) }
func (l *stderrLogger) Infof(f string, a ...any)    { l.logf(logger.INFO, f, a...) }
func (l *stderrLogger) Warningf(f string, a ...any) { l.logf(logger.WARNING, f, a...) }
func (l *stderrLogger) Errorf(f string, a ...any)   { l.logf(logger.ERROR, f, a...) }
func (l *stderrLogger) Panicf(f string, a ...any) {
	panic(fmt.Sprintf("dragonboat %s: %s", l.pkg, fmt.Sprintf(f, a...)))
}

func (c runConfig) label() string {
	return fmt.Sprintf("%s-%dg-%dc-%db", c.scenario, c.groups, c.clients, c.size)
}

// runWrite: every client proposes puts of random keys with size-byte
// values, at the shard's leader (SyncPropose with a no-op session).
func runWrite(ctx context.Context, cfg runConfig) (Result, error) {
	c, err := startCluster(ctx, cfg, cfg.groups)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	return runClients(ctx, runSpec{
		clients: cfg.clients, warmup: cfg.warmup(), duration: cfg.duration, c: c,
		cpuProfile: cfg.cpuProfile, label: cfg.label(),
		newOp: func(i int) clientOp {
			// The same random streams as the main harness's clients.
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)))
			val := make([]byte, cfg.size)
			for j := range val {
				val[j] = byte('a' + rng.IntN(26))
			}
			var key, cmd []byte
			return func(ctx context.Context) error {
				k := rng.Uint32()
				key = formatKey(key[:0], k)
				cmd = encodePut(cmd, key, val)
				shard := c.ks.shardOf(k)
				return c.do(ctx, shard, func(_ *dragonboat.NodeHost, h int) error {
					return c.syncPropose(ctx, h, shard, cmd)
				})
			}
		},
	})
}

// readKeys is how many keys the read scenarios write before the clock
// starts (the main harness's rule).
func readKeys(groups int) int { return min(max(8*groups, 4096), 1<<16) }

// runRead: every client reads keys written before the window, with
// SyncRead (linearizable, ReadIndex) or, for "stale", StaleRead at the
// leader's host (its local state machine, no ReadIndex).
func runRead(ctx context.Context, cfg runConfig) (Result, error) {
	c, err := startCluster(ctx, cfg, cfg.groups)
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	rng := rand.New(rand.NewPCG(cfg.seed, 0))
	keys := make([]uint32, readKeys(cfg.groups))
	for i := range keys {
		keys[i] = rng.Uint32()
	}
	if err := c.preload(ctx, keys, cfg.size, cfg.clients); err != nil {
		return Result{}, err
	}
	stale := cfg.scenario == "stale"
	return runClients(ctx, runSpec{
		clients: cfg.clients, warmup: cfg.warmup(), duration: cfg.duration, c: c,
		cpuProfile: cfg.cpuProfile, label: cfg.label(),
		newOp: func(i int) clientOp {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)+1))
			var key []byte
			return func(ctx context.Context) error {
				k := keys[rng.IntN(len(keys))]
				key = formatKey(key[:0], k)
				shard := c.ks.shardOf(k)
				return c.do(ctx, shard, func(nh *dragonboat.NodeHost, _ int) error {
					var r lookupResult
					var err error
					if stale {
						var v any
						v, err = nh.StaleRead(shardID(shard), string(key))
						if err == nil {
							r = v.(lookupResult)
						}
					} else {
						r, err = c.syncRead(ctx, nh, shard, string(key))
					}
					if err == nil && !r.found {
						return fmt.Errorf("key %s written before the run is missing", key)
					}
					return err
				})
			}
		},
	})
}

// preload writes keys with size-byte values, parallel at a time.
func (c *cluster) preload(ctx context.Context, keys []uint32, size, parallel int) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	parallel = max(parallel, 1)
	work := make(chan uint32)
	errs := make([]error, parallel)
	val := make([]byte, size)
	var wg sync.WaitGroup
	for w := range parallel {
		wg.Go(func() {
			var key, cmd []byte
			for k := range work {
				if errs[w] != nil {
					continue
				}
				key = formatKey(key[:0], k)
				cmd = encodePut(cmd, key, val)
				shard := c.ks.shardOf(k)
				err := c.do(ctx, shard, func(_ *dragonboat.NodeHost, h int) error {
					return c.syncPropose(ctx, h, shard, cmd)
				})
				if err != nil {
					errs[w] = fmt.Errorf("preloading %s: %w", key, err)
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// runIdle: groups shards and no traffic. It measures the process's CPU
// over the window and its resident set at the end, against a reading
// taken before the NodeHosts started. A cluster that cannot start within
// the memory limits gives a result with a note instead of an error.
func runIdle(ctx context.Context, cfg runConfig) (Result, error) {
	base := settledRSS()
	c, err := startCluster(ctx, cfg, cfg.groups)
	var ml *errMemLimit
	if errors.As(err, &ml) {
		return Result{Replicas: ml.started, RSSMB: float64(ml.rss) / (1 << 20), LoadAvg: loadAvg(),
			RSSPerReplicaBytes: float64(ml.rss-base) / float64(ml.started),
			Note:               "could not start: " + ml.Error()}, nil
	}
	if err != nil {
		return Result{}, err
	}
	defer c.close()
	settle := cfg.idleSettle
	if settle == 0 {
		settle = 3 * time.Second
		if cfg.settings.quiesce {
			// dragonboat quiesces a group after ten election timeouts
			// without traffic.
			settle = time.Duration(12*cfg.settings.electionRTT*cfg.settings.rttMS) * time.Millisecond
		}
	}
	if err := sleepUntil(ctx, time.Now().Add(settle)); err != nil {
		return Result{}, err
	}
	settledRSS()
	start := time.Now().Add(300 * time.Millisecond)
	res, err := measureWindow(ctx, runSpec{c: c, cpuProfile: cfg.cpuProfile, label: cfg.label()}, start, start.Add(cfg.duration))
	if err != nil {
		return Result{}, err
	}
	if res.Replicas > 0 {
		res.RSSPerReplicaBytes = (res.RSSMB*(1<<20) - float64(base)) / float64(res.Replicas)
	}
	return res, nil
}
