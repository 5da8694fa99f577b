// Command aggregator consumes liquidation events from Kafka into ClickHouse.
//
//	aggregator --config liqstream.yaml [--brokers h:p,...] [--clickhouse-addr h:p,...]
//	           [--instance-id id] [--database name] [--metrics-addr h:p] [--migrate | --migrate-dry-run]
//
// Settings apply as defaults < the file's kafka and clickhouse sections <
// its aggregator section (deploy/config/README.md) < flags. --migrate
// applies the ClickHouse schema and exits; the service never does so on its
// own.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/lib/cliargs"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/telemetry"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log, os.Args[1:]); err != nil {
		log.Error("aggregator failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, args []string) error {
	cfg, a, err := config(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if a.migrate || a.dryRun {
		applied, err := aggregator.Migrate(ctx, cfg.ClickHouse, log, a.dryRun)
		for _, m := range applied {
			fmt.Printf("%s %04d %s (%d statements)\n", map[bool]string{true: "pending", false: "applied"}[a.dryRun], m.Version, m.Name, m.Statements)
		}
		return err
	}

	// A soft memory limit bounds peak RSS (aggregator.Config.MemoryLimitMiB);
	// GOMEMLIMIT, when set, is the operator's and wins.
	if cfg.MemoryLimitMiB > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimitMiB << 20)
	}
	tel, err := telemetry.New("aggregator")
	if err != nil {
		return err
	}
	agg, err := aggregator.New(cfg, log, tel.Meter())
	if err != nil {
		return err
	}
	log.Info("starting aggregator", "config", a.configPath, "clickhouse", cfg.ClickHouse.Addr, "database", cfg.ClickHouse.Database, "password", cfg.ClickHouse.Password)

	// Run group: the aggregator and the metrics server; the first to return
	// stops the other. The aggregator returns after its final flush.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- agg.Run(ctx) }()
	go func() { errs <- tel.Serve(ctx, cfg.MetricsAddr, log, telemetry.WithReadiness(agg.Ready)) }()
	first := <-errs
	cancel()
	second := <-errs
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = tel.Shutdown(sctx)
	if first != nil {
		return first
	}
	return second
}

// invocation is what the flags ask besides the config.
type invocation struct {
	configPath      string
	migrate, dryRun bool
}

// config builds the validated config, once: defaults < file
// (aggregator.FromFile) < flags that were given.
func config(args []string) (aggregator.Config, invocation, error) {
	var a invocation
	fs := flag.NewFlagSet("aggregator", flag.ContinueOnError)
	fs.StringVar(&a.configPath, "config", "", "liqstream.yaml (deploy/config/README.md); its kafka, clickhouse and aggregator sections apply")
	brokers := fs.String("brokers", "", "Kafka seed brokers, comma-separated (kafka.brokers)")
	chAddr := fs.String("clickhouse-addr", "", "ClickHouse native addresses, comma-separated (clickhouse.addr)")
	instanceID := fs.String("instance-id", "", "static consumer-group member id, unique per replica; empty for dynamic membership (kafka.instance_id)")
	database := fs.String("database", "", "ClickHouse database (clickhouse.database)")
	metricsAddr := fs.String("metrics-addr", "", "address serving /metrics, empty for none (metrics_addr)")
	fs.BoolVar(&a.migrate, "migrate", false, "apply pending ClickHouse migrations and exit")
	fs.BoolVar(&a.dryRun, "migrate-dry-run", false, "list pending ClickHouse migrations and exit")
	kflags := kafkaconn.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return aggregator.Config{}, a, err
	}
	if err := cliargs.None(fs); err != nil {
		return aggregator.Config{}, a, err
	}

	var f *configfile.File
	if a.configPath != "" {
		var err error
		if f, err = configfile.Open(a.configPath); err != nil {
			return aggregator.Config{}, a, err
		}
	}
	cfg, err := aggregator.FromFile(f)
	if err != nil {
		return cfg, a, fmt.Errorf("%w\n(liqstream config check --file %s lists every problem)", err, a.configPath)
	}
	set := configfile.FlagsSet(fs)
	if set["brokers"] {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	}
	if set["clickhouse-addr"] {
		cfg.ClickHouse.Addr = strings.Split(*chAddr, ",")
	}
	if set["instance-id"] {
		cfg.Kafka.InstanceID = *instanceID
	}
	if set["database"] {
		cfg.ClickHouse.Database = *database
	}
	if set["metrics-addr"] {
		cfg.MetricsAddr = *metricsAddr
	}
	if err := kflags.Apply(&cfg.Kafka.Conn, nil); err != nil {
		return cfg, a, err
	}
	return cfg, a, cfg.Validate()
}
