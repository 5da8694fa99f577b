package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/kfakeproc"
	"github.com/liqstream/liqstream/services/lib/secret"
	"go.opentelemetry.io/otel/metric/noop"
)

// Chain is the chain the harness backfills: Polygon, the chain with the
// most Aave liquidations.
const Chain = "polygon"

// Config sizes a benchmark. The zero value of a field takes its default.
type Config struct {
	// Seed and Scale configure chainsim (default seed 1; scale 5 gives about
	// 65k Polygon events over the default 60-day window).
	Seed  int64
	Scale float64
	// Days shortens chainsim's window to its first Days days (0: the whole
	// default window).
	Days int
	// Concurrency is ingest's concurrency (default 8).
	Concurrency int
	// Latency is added to every HTTP request chainsim answers.
	Latency time.Duration
	// Runs is how many backfills are timed (default 1); Result.Median is
	// their median.
	Runs int
	// Brokers is the Kafka cluster to publish into.
	Brokers []string
	// Log receives ingest's logs (default: discarded).
	Log *slog.Logger
	// BrokerCPU, when set, reads the broker process's CPU time, so a run
	// can say how much CPU the broker spent (Broker.CPU).
	BrokerCPU func() time.Duration
}

func (c Config) withDefaults() Config {
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Scale == 0 {
		c.Scale = 5
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.Runs == 0 {
		c.Runs = 1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Run is one timed backfill.
type Run struct {
	// Events is how many events ingest published (equal to the truth).
	Events uint64
	// Elapsed is from Run's start to its return after the last commit.
	Elapsed time.Duration
	// Requests is how many HTTP requests reached chainsim (a JSON-RPC batch
	// is one).
	Requests int64
	// CPU is the CPU time of this process during the run: ingest and
	// chainsim, which serve each other in-process.
	CPU time.Duration
	// BrokerCPU is the broker process's CPU time during the run (0 when
	// Config.BrokerCPU is nil).
	BrokerCPU time.Duration
}

// EventsPerSecond is the run's throughput.
func (r Run) EventsPerSecond() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// Result is the outcome of Backfill.
type Result struct {
	Runs []Run
	// Median is the run with the median throughput (the lower middle one
	// for an even count).
	Median Run
	// Truth is how many liquidations chainsim has in the window.
	Truth int
	// Blocks is the window's block span.
	Blocks uint64
	// Setup is how long building the chain took (not timed in the runs).
	Setup time.Duration
}

// Floor is the least time the median run's requests could take at
// latency with concurrency requests in flight: requests ÷ concurrency ×
// latency.
func (r Result) Floor(cfg Config) time.Duration {
	cfg = cfg.withDefaults()
	return time.Duration(float64(r.Median.Requests) / float64(cfg.Concurrency) * float64(cfg.Latency))
}

// countingHandler delays every request by latency and counts it.
type countingHandler struct {
	next    http.Handler
	latency time.Duration
	n       atomic.Int64
}

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.n.Add(1)
	if h.latency > 0 {
		t := time.NewTimer(h.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = crand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Backfill builds chainsim once, serves it on loopback behind the latency
// and counting wrapper, and times cfg.Runs backfills of its whole window,
// each into fresh topics on cfg.Brokers.
func Backfill(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	var res Result
	if len(cfg.Brokers) == 0 {
		return res, errors.New("bench: no Kafka brokers; start cmd/kfakebroker or pass --kafka")
	}
	ch, err := chains.Default().Lookup(Chain)
	if err != nil {
		return res, err
	}
	scfg := sim.Config{Seed: cfg.Seed, Scale: cfg.Scale, Chains: []uint64{ch.ID}}
	if cfg.Days > 0 {
		scfg.From, _ = sim.DefaultWindow()
		scfg.To = scfg.From.Add(time.Duration(cfg.Days) * 24 * time.Hour)
	}
	start := time.Now()
	s, err := sim.New(scfg)
	if err != nil {
		return res, fmt.Errorf("building chainsim: %w", err)
	}
	res.Setup = time.Since(start)
	from, to := scfg.From, scfg.To
	if from.IsZero() {
		from, to = sim.DefaultWindow()
	}
	fromBlock, toBlock := s.BlockAt(ch.ID, from), s.BlockAt(ch.ID, to)
	res.Blocks = toBlock - fromBlock
	for _, ev := range s.Truth().Events(ch.ID) {
		if ev.BlockNumber >= fromBlock && ev.BlockNumber < toBlock {
			res.Truth++
		}
	}

	h := &countingHandler{next: s.Handler(), latency: cfg.Latency}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	url := "http://" + ln.Addr().String() + "/" + Chain

	for i := range cfg.Runs {
		icfg := ingest.DefaultConfig()
		icfg.Chain, icfg.RPCURL = Chain, secret.URL(url)
		icfg.From, icfg.To = fmt.Sprint(fromBlock), fmt.Sprint(toBlock)
		icfg.Concurrency = cfg.Concurrency
		icfg.ProgressInterval = time.Hour
		icfg.Kafka.Brokers, icfg.Kafka.TopicPrefix, icfg.Kafka.Replication = cfg.Brokers, uniqueName("liqstream_bench")+".", 1
		in, err := ingest.New(icfg, cfg.Log, noop.NewMeterProvider().Meter("bench"))
		if err != nil {
			return res, err
		}
		before, cpu0, bcpu0 := h.n.Load(), processCPU(), brokerCPU(cfg)
		t0 := time.Now()
		if err := in.Run(ctx); err != nil {
			return res, fmt.Errorf("backfill run %d: %w", i+1, err)
		}
		r := Run{Elapsed: time.Since(t0), Requests: h.n.Load() - before, CPU: processCPU() - cpu0, BrokerCPU: brokerCPU(cfg) - bcpu0}
		p := in.Progress()
		r.Events = p.EventsPublished
		if !p.Done {
			return res, fmt.Errorf("backfill run %d returned before the end of the window (at block %d of %d)", i+1, p.Current, toBlock)
		}
		if r.Events != uint64(res.Truth) || p.DeadLetters != 0 {
			return res, fmt.Errorf("backfill run %d published %d events and %d dead letters, chainsim's truth has %d events in blocks %d..%d",
				i+1, r.Events, p.DeadLetters, res.Truth, fromBlock, toBlock-1)
		}
		res.Runs = append(res.Runs, r)
		cfg.Log.Info("backfill run", "run", i+1, "events", r.Events, "elapsed", r.Elapsed, "requests", r.Requests,
			"events_per_s", int(r.EventsPerSecond()),
			"cpu", r.CPU, "broker_cpu", r.BrokerCPU)
	}
	sorted := append([]Run(nil), res.Runs...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].EventsPerSecond() < sorted[b].EventsPerSecond() })
	res.Median = sorted[(len(sorted)-1)/2]
	return res, nil
}

func brokerCPU(cfg Config) time.Duration {
	if cfg.BrokerCPU == nil {
		return 0
	}
	return cfg.BrokerCPU()
}

// processCPU returns this process's CPU time (user + system), read the way
// the broker's is (kfakeproc.ProcessCPU).
func processCPU() time.Duration { return kfakeproc.ProcessCPU(os.Getpid()) }
