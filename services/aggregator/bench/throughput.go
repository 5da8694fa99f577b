package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/kfakeproc"
	"go.opentelemetry.io/otel/metric/noop"
)

// ThroughputConfig sizes the throughput harness.
type ThroughputConfig struct {
	// Events preloaded into the topic (issue 4: 2,000,000).
	Events int
	// Runs of the pipeline and of the bare insert; medians are reported.
	Runs int
	// Partitions of the preloaded topic.
	Partitions int32
	Seed       int64
	// Brokers to preload and consume; a unique topic is created on them.
	Brokers []string
	// ClickHouse native address.
	ClickHouse string
	// Consumer is the aggregator's consumer config; Kafka brokers, group,
	// topic and DLQ topic are set by the harness.
	Consumer consume.Config
	Log      *slog.Logger
	// ServerCPU, when set, reads the ClickHouse server process's CPU time,
	// so that each pipeline run reports what the server spent on it (raw
	// inserts, recomputations and background merges).
	ServerCPU func() time.Duration
}

// ThroughputResult holds events per second of each run, and where the CPU
// time of each pipeline run went.
type ThroughputResult struct {
	Pipeline, Bare []float64
	Runs           []PipelineRun
}

// PipelineRun is one pipeline run's wall time and CPU time: the consumer is
// this process (decoding, inserting, the Kafka client); ServerCPU is 0 when
// ThroughputConfig.ServerCPU is nil.
type PipelineRun struct {
	Wall, ConsumerCPU, ServerCPU time.Duration
}

// Ratios returns each pipeline run's events per second over those of the
// bare insert that ran right after it: the pair shares the machine's state
// (page cache, the server's background work), which drifts over a series
// of runs.
func (r ThroughputResult) Ratios() []float64 {
	out := make([]float64, 0, len(r.Pipeline))
	for i := range min(len(r.Pipeline), len(r.Bare)) {
		if r.Bare[i] > 0 {
			out = append(out, r.Pipeline[i]/r.Bare[i])
		}
	}
	return out
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Throughput preloads the events once, then alternates Runs pipeline runs
// (a fresh consumer group and ClickHouse database each) with Runs bare
// inserts of the same rows.
func Throughput(ctx context.Context, cfg ThroughputConfig) (ThroughputResult, error) {
	var res ThroughputResult
	topic := uniqueName("liqstream_bench")
	began := time.Now()
	if err := Preload(ctx, cfg.Brokers, topic, cfg.Partitions, cfg.Events, cfg.Seed); err != nil {
		return res, err
	}
	cfg.Log.Info("preloaded", "events", cfg.Events, "topic", topic, "brokers", cfg.Brokers, "took", time.Since(began))
	for run := 0; run < cfg.Runs; run++ {
		rate, pr, err := pipelineRun(ctx, cfg, topic)
		if err != nil {
			return res, fmt.Errorf("pipeline run %d: %w", run+1, err)
		}
		res.Pipeline = append(res.Pipeline, rate)
		res.Runs = append(res.Runs, pr)
		bare, err := Bare(ctx, cfg.ClickHouse, cfg.Events, cfg.Seed, cfg.Consumer.Batch.MaxRecords, cfg.Log)
		if err != nil {
			return res, fmt.Errorf("bare run %d: %w", run+1, err)
		}
		res.Bare = append(res.Bare, bare)
		cfg.Log.Info("throughput run", "run", run+1, "pipeline_events_per_s", int(rate), "bare_events_per_s", int(bare))
	}
	return res, nil
}

// pipelineRun consumes the whole topic with a fresh group into a fresh
// database and returns events per second from the first record polled to
// the last commit, and the run's CPU time. It then checks that the rollups
// equal the raw table.
func pipelineRun(ctx context.Context, cfg ThroughputConfig, topic string) (float64, PipelineRun, error) {
	db, conn, drop, err := database(ctx, cfg.ClickHouse, cfg.Log)
	if err != nil {
		return 0, PipelineRun{}, err
	}
	defer drop()
	scfg := store.DefaultConfig()
	scfg.Database = db
	scfg.QueryTimeout = 10 * time.Minute
	meter := noop.NewMeterProvider().Meter("bench")
	st, err := store.NewWithConn(scfg, cfg.Log, meter, conn)
	if err != nil {
		return 0, PipelineRun{}, err
	}
	ccfg := cfg.Consumer
	ccfg.Kafka.Brokers, ccfg.Kafka.Topic, ccfg.Kafka.DLQTopic = cfg.Brokers, topic, topic+".dlq"
	ccfg.Kafka.Group = uniqueName("liqstream_bench")
	c, err := consume.New(ccfg, cfg.Log, meter, st)
	if err != nil {
		return 0, PipelineRun{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	cpu0, server0 := processCPU(), serverCPU(cfg)
	go func() { errc <- c.Run(rctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var s consume.Stats
	for s = c.Stats(); s.RecordsConsumed < uint64(cfg.Events); s = c.Stats() {
		select {
		case err := <-errc:
			return 0, PipelineRun{}, fmt.Errorf("consumer stopped after %d of %d records: %v", s.RecordsConsumed, cfg.Events, err)
		case <-ctx.Done():
			return 0, PipelineRun{}, ctx.Err()
		case <-tick.C:
		}
	}
	pr := PipelineRun{ConsumerCPU: processCPU() - cpu0, ServerCPU: serverCPU(cfg) - server0}
	cancel()
	if err := <-errc; err != nil {
		return 0, PipelineRun{}, err
	}
	if s.RowsWritten != uint64(cfg.Events) {
		return 0, PipelineRun{}, fmt.Errorf("wrote %d rows of %d events (%d dead letters)", s.RowsWritten, cfg.Events, s.DLQRecords)
	}
	took := s.LastCommit.Sub(s.FirstRecord)
	pr.Wall = took
	if err := checkRollups(ctx, conn, cfg.Events); err != nil {
		return 0, PipelineRun{}, err
	}
	cfg.Log.Info("pipeline run", "events", cfg.Events, "took", took, "batches", s.Batches,
		"consumer_cpu", pr.ConsumerCPU, "server_cpu", pr.ServerCPU)
	return float64(cfg.Events) / took.Seconds(), pr, nil
}

// processCPU returns this process's CPU time (user + system).
func processCPU() time.Duration { return kfakeproc.ProcessCPU(os.Getpid()) }

func serverCPU(cfg ThroughputConfig) time.Duration {
	if cfg.ServerCPU == nil {
		return 0
	}
	return cfg.ServerCPU()
}

// checkRollups asserts the rollups count every event and agree with the
// raw table on counts and USD sums per chain.
func checkRollups(ctx context.Context, conn driver.Conn, events int) error {
	got, err := query.CycleSummary(ctx, conn, windowFrom, windowTo)
	if err != nil {
		return err
	}
	raw, err := query.CycleSummaryRaw(ctx, conn, windowFrom, windowTo)
	if err != nil {
		return err
	}
	var n uint64
	for _, s := range got {
		n += s.Events
	}
	if n != uint64(events) || len(raw) != len(got) {
		return fmt.Errorf("rollups count %d events over %d chains, want %d (raw table: %d chains)", n, len(got), events, len(raw))
	}
	for i := range got {
		if raw[i].Events != got[i].Events || raw[i].CollateralUSD.Cmp(got[i].CollateralUSD) != 0 || raw[i].DebtUSD.Cmp(got[i].DebtUSD) != 0 {
			return fmt.Errorf("rollup %+v disagrees with the raw table %+v", got[i], raw[i])
		}
	}
	return nil
}
