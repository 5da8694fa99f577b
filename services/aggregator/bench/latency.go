package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/topics"
	"go.opentelemetry.io/otel/metric/noop"
)

// LatencyConfig sizes the latency harness.
type LatencyConfig struct {
	// Events is how many events are measured at least (issue 4: 500).
	Events int
	// PerStep is how many events each head move makes final at once.
	PerStep int
	// PollInterval is ingest's follow poll_interval.
	PollInterval time.Duration
	// QueryInterval is how often the rollup is queried (issue 4: 10ms).
	QueryInterval time.Duration
	Seed          int64
	// Brokers run Kafka (the kfakebroker process); ClickHouse is native.
	Brokers    []string
	ClickHouse string
	Log        *slog.Logger
}

// LatencyResult holds one latency per measured event.
type LatencyResult struct {
	Latencies []time.Duration
}

// Quantile returns the q-quantile (nearest rank) of the latencies.
func (r LatencyResult) Quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.Latencies)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// chainID is the chain the latency harness follows: Ethereum.
const chainID, chainSlug = 1, "ethereum"

// Latency runs chainsim → ingest (follow) → Kafka → aggregator (its
// consumer defaults) → ClickHouse. It moves chainsim's head so the next
// PerStep events' blocks become final (the "finalized" tag ingest follows)
// and measures, for each such step, the time until the daily rollup, queried
// every QueryInterval, counts those events; every event of the step gets
// that latency.
func Latency(ctx context.Context, cfg LatencyConfig) (LatencyResult, error) {
	var res LatencyResult
	s, err := sim.New(sim.Config{Seed: cfg.Seed, Scale: 1, Chains: []uint64{chainID}})
	if err != nil {
		return res, err
	}
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	base, err := s.Serve(sctx, "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	depth := s.Head(chainID) - s.Finalized(chainID)
	truth := s.Truth().Events(chainID)
	// Start a few hundred events into the window, with everything before
	// the start final: ingest's backfill is then empty.
	first := min(len(truth)/3, 300)
	if len(truth)-first < cfg.Events {
		return res, fmt.Errorf("chainsim has %d events on chain %d, want %d after the start", len(truth), chainID, cfg.Events+first)
	}
	startBlock := truth[first].BlockNumber
	s.SetHead(chainID, startBlock-1+depth)

	_, conn, drop, err := database(ctx, cfg.ClickHouse, cfg.Log)
	if err != nil {
		return res, err
	}
	defer drop()
	prefix := uniqueName("liqstream_bench") + "."

	icfg := ingest.DefaultConfig()
	icfg.Chain, icfg.RPCURL = chainSlug, secret.URL(base+"/"+chainSlug)
	icfg.From, icfg.Follow, icfg.Confirmations = fmt.Sprint(startBlock), true, 0
	icfg.PollInterval = cfg.PollInterval
	icfg.Kafka.Brokers, icfg.Kafka.TopicPrefix, icfg.Kafka.Replication = cfg.Brokers, prefix, 1
	in, err := ingest.New(icfg, cfg.Log.With("stage", "ingest"), noop.NewMeterProvider().Meter("bench"))
	if err != nil {
		return res, err
	}

	scfg := store.DefaultConfig()
	st, err := store.NewWithConn(scfg, cfg.Log, noop.NewMeterProvider().Meter("bench"), conn)
	if err != nil {
		return res, err
	}
	ccfg := consume.DefaultConfig()
	ccfg.Kafka.Brokers, ccfg.Kafka.Group = cfg.Brokers, uniqueName("liqstream_bench")
	ccfg.Kafka.Topic, ccfg.Kafka.DLQTopic = prefix+topics.Liquidations, prefix+topics.LiquidationsDLQ
	cons, err := consume.New(ccfg, cfg.Log.With("stage", "consume"), noop.NewMeterProvider().Meter("bench"), st)
	if err != nil {
		return res, err
	}
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 2)
	go func() { errc <- in.Run(rctx) }()
	go func() { errc <- cons.Run(rctx) }()
	defer func() {
		cancel()
		<-errc
		<-errc
	}()

	count := func() (uint64, error) {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT sum(events) FROM liquidations_daily FINAL WHERE chain_id = ?", uint64(chainID)).Scan(&n)
		return n, err
	}
	// Wait for the consumer to join and the first follow poll: the topic
	// exists once ingest ran, and the group then owns its partitions.
	ready := time.Now().Add(60 * time.Second)
	for in.Progress().Current < startBlock && time.Now().Before(ready) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // consumer group join
	tick := time.NewTicker(cfg.QueryInterval)
	defer tick.Stop()
	next := first
	for len(res.Latencies) < cfg.Events {
		last := next + cfg.PerStep - 1
		// Take whole blocks: every event of the last block is in the step.
		for last+1 < len(truth) && truth[last+1].BlockNumber == truth[last].BlockNumber {
			last++
		}
		want := uint64(last + 1 - first)
		moved := time.Now()
		s.SetHead(chainID, truth[last].BlockNumber+depth)
		for {
			n, err := count()
			if err != nil {
				return res, fmt.Errorf("querying the rollup: %w", err)
			}
			if n >= want {
				break
			}
			select {
			case err := <-errc:
				return res, fmt.Errorf("a stage stopped: %v", err)
			case <-ctx.Done():
				return res, ctx.Err()
			case <-tick.C:
			}
			if time.Since(moved) > 60*time.Second {
				return res, fmt.Errorf("rollup counts %d events 60s after block %d became final, want %d", n, truth[last].BlockNumber, want)
			}
		}
		took := time.Since(moved)
		for range last + 1 - next {
			res.Latencies = append(res.Latencies, took)
		}
		next = last + 1
	}
	return res, nil
}
