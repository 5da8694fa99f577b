package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"go.opentelemetry.io/otel/metric"
)

// ErrConfig is wrapped by Validate errors of this package's own keys.
var ErrConfig = errors.New("invalid aggregator config")

// Config is the aggregator's configuration. In the shared liqstream.yaml
// (FromFile; deploy/config/README.md) clickhouse is the top-level section
// and the other keys sit under aggregator:
//
//	kafka:      {brokers: [...], group: ..., topic: ..., dlq_topic: ..., instance_id: "", session_timeout: 45s}
//	clickhouse: {addr: [...], database: ..., username: ..., password: ..., dial_timeout: 5s, ...}
//	batch:      {max_records: 20000, max_wait: 250ms, shutdown_timeout: 30s}
//	metrics_addr: 127.0.0.1:9464
//	health:     {max_consumer_lag_records: 10000}
type Config struct {
	consume.Config `yaml:",inline"`
	ClickHouse     store.Config `yaml:"clickhouse"`
	// MetricsAddr serves /metrics, /healthz and /readyz; empty serves
	// nothing (default 127.0.0.1:9464).
	MetricsAddr string `yaml:"metrics_addr"`
	// Health bounds readiness (/readyz); see Aggregator.Ready.
	Health HealthConfig `yaml:"health"`
	// MemoryLimitMiB is the Go runtime's soft memory limit for the process
	// (cmd/aggregator applies it with debug.SetMemoryLimit; a GOMEMLIMIT in
	// the environment wins). The garbage collector works harder as the heap
	// nears it, so peak RSS stays near this figure whatever the backlog.
	// The live heap holds up to two batches of batch.max_records (one being
	// written while the next is decoded): raise both together. At the
	// defaults, peak RSS measured 397 MiB with a 1M and 402 MiB with a 10M
	// backlog (make bench). 0 leaves the runtime's default (no limit).
	// Default 384.
	MemoryLimitMiB int64 `yaml:"memory_limit_mib"`
}

// DefaultConfig returns every default.
func DefaultConfig() Config {
	return Config{Config: consume.DefaultConfig(), ClickHouse: store.DefaultConfig(), MetricsAddr: "127.0.0.1:9464",
		Health: DefaultHealthConfig(), MemoryLimitMiB: 384}
}

// Validate reports the first invalid setting, naming its YAML key.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if err := c.Health.Validate(); err != nil {
		return err
	}
	if c.MemoryLimitMiB < 0 || (c.MemoryLimitMiB > 0 && c.MemoryLimitMiB < 64) {
		return fmt.Errorf("memory_limit_mib: %d: use 0 (no limit) or at least 64 (MiB; about 2x batch.max_records x 10 KiB)", c.MemoryLimitMiB)
	}
	return c.ClickHouse.Validate()
}

// Aggregator consumes liquidation events into ClickHouse.
type Aggregator struct {
	log      *slog.Logger
	store    *store.Store
	consumer *consume.Consumer
	health   healthState // health.go
}

// New builds the stages. Nothing connects until Run.
func New(cfg Config, log *slog.Logger, meter metric.Meter, opts ...Option) (*Aggregator, error) {
	o := newOptions(opts)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.New(cfg.ClickHouse, log.With("stage", "store"), meter, store.WithTracerProvider(o.tp))
	if err != nil {
		return nil, fmt.Errorf("building store: %w", err)
	}
	cons, err := consume.New(cfg.Config, log.With("stage", "consume"), meter, st, consume.WithTracerProvider(o.tp))
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("building consumer: %w", err)
	}
	return &Aggregator{log: log, store: st, consumer: cons, health: healthState{cfg: cfg.Health, addr: cfg.ClickHouse.Addr}}, nil
}

// Run consumes until ctx is cancelled (returning nil after the final flush
// and commit) or a non-retryable failure (returning it).
func (a *Aggregator) Run(ctx context.Context) error {
	a.health.running(true, nil)
	err := a.consumer.Run(ctx)
	a.health.running(false, err)
	if cerr := a.store.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing ClickHouse connection: %w", cerr)
	}
	s := a.consumer.Stats()
	a.log.Info("aggregator stopped", "records", s.RecordsConsumed, "rows", s.RowsWritten, "dlq", s.DLQRecords, "batches", s.Batches, "last_commit", s.LastCommit)
	return err
}

// Stats returns the consumer's counters.
func (a *Aggregator) Stats() consume.Stats { return a.consumer.Stats() }

// Migrate applies pending migrations to cfg.ClickHouse.Database (creating it
// when missing) and returns what it applied; with dryRun it only returns
// what it would apply.
func Migrate(ctx context.Context, cfg store.Config, log *slog.Logger, dryRun bool) ([]migrate.Applied, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Connect without a default database: it may not exist yet.
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        cfg.Addr,
		Auth:        clickhouse.Auth{Username: cfg.Username, Password: cfg.Password.Reveal()},
		DialTimeout: cfg.DialTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %v: %w (check clickhouse.addr)", cfg.Addr, err)
	}
	defer func() { _ = conn.Close() }()
	if dryRun {
		return migrate.Pending(ctx, conn, cfg.Database)
	}
	return migrate.Run(ctx, conn, cfg.Database, log)
}
