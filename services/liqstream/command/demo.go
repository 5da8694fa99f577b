package command

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/liqstream/demo"
)

// Demo runs the pipeline over the chain simulator and prints the cycle table
// beside the ground truth. It exits 1 when any figure differs.
func Demo(ctx context.Context, env Env, args []string) int {
	def := demo.DefaultConfig()
	fs := flags(env, "demo")
	seed := fs.Int64("seed", def.Seed, "chainsim seed")
	scale := fs.Float64("scale", def.Scale, "chainsim event volume (1 = demo size)")
	from := fs.String("from", def.From.Format(time.DateOnly), "window start, UTC date")
	to := fs.String("to", def.To.Format(time.DateOnly), "window end (exclusive), UTC date")
	chainList := fs.String("chains", strings.Join(def.Chains, ","), "comma-separated chain slugs or ids")
	brokers := fs.String("brokers", envOr(env, "KAFKA_BROKERS", ""), "Kafka brokers (default $KAFKA_BROKERS; empty starts an embedded broker)")
	addr := fs.String("clickhouse-addr", envOr(env, "CLICKHOUSE_ADDR", def.ClickHouseAddr), "ClickHouse native address (default $CLICKHOUSE_ADDR)")
	db := fs.String("database", def.Database, "ClickHouse database, dropped and recreated by the demo")
	timeout := fs.Duration("timeout", def.Timeout, "give up after this long")
	verbose := fs.Bool("v", false, "log every stage's messages")
	kflags := kafkaconn.AddFlags(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg := def
	cfg.Seed, cfg.Scale, cfg.Database, cfg.Timeout, cfg.ClickHouseAddr = *seed, *scale, *db, *timeout, *addr
	cfg.ClickHousePassword = secret.String(env.Getenv("CLICKHOUSE_PASSWORD"))
	var err error
	if cfg.From, err = time.Parse(time.DateOnly, *from); err != nil {
		fmt.Fprintf(env.Stderr, "liqstream demo: --from %q is not a date like 2026-01-01\n", *from)
		return 2
	}
	if cfg.To, err = time.Parse(time.DateOnly, *to); err != nil || !cfg.To.After(cfg.From) {
		fmt.Fprintf(env.Stderr, "liqstream demo: --to %q must be a date like 2026-03-01 after --from\n", *to)
		return 2
	}
	cfg.Chains = splitList(*chainList)
	cfg.Brokers = splitList(*brokers)
	if err := kflags.Apply(&cfg.Conn, env.Getenv); err != nil {
		fmt.Fprintf(env.Stderr, "liqstream demo: %v\n", err)
		return 2
	}
	if len(cfg.Brokers) > 0 {
		if err := cfg.Conn.Validate("kafka"); err != nil {
			fmt.Fprintf(env.Stderr, "liqstream demo: %v (flags: --brokers, --kafka-tls*, --kafka-sasl-*)\n", err)
			return 2
		}
		// A real broker keeps topics and ingest checkpoints between runs: each
		// seed and scale gets topics of its own, so a rerun finds its own
		// checkpoints and records and never mixes in another data set.
		cfg.TopicPrefix = fmt.Sprintf("demo-seed%d-scale%g.", cfg.Seed, cfg.Scale)
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	tel, err := telemetry.New("demo")
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream demo: %v\n", err)
		return 1
	}
	defer func() { // flush the last spans when OTEL_* turned tracing on
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = tel.Shutdown(sctx)
	}()
	kafka := "embedded kfake broker"
	if len(cfg.Brokers) > 0 {
		kafka = cfg.Conn.Describe()
	}
	fmt.Fprintf(env.Stdout, "liqstream demo: chains %s, %s..%s, seed %d, scale %g, Kafka %s, ClickHouse %s/%s\n",
		strings.Join(cfg.Chains, ","), *from, *to, cfg.Seed, cfg.Scale, kafka, cfg.ClickHouseAddr, cfg.Database)
	res, err := demo.Run(ctx, cfg, logger(env.Stderr, level), tel.Meter(), env.Stdout)
	if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream demo: %v\n", err)
		return 1
	}
	fmt.Fprintln(env.Stdout)
	if err := res.WriteTable(env.Stdout); err != nil {
		return 1
	}
	if bad := res.Mismatches(); len(bad) > 0 {
		fmt.Fprintf(env.Stdout, "\nMISMATCH: %d difference(s) between ClickHouse and the ground truth:\n", len(bad))
		for i, b := range bad {
			if i == 20 {
				fmt.Fprintf(env.Stdout, "  ... and %d more\n", len(bad)-20)
				break
			}
			fmt.Fprintln(env.Stdout, "  "+b)
		}
		return 1
	}
	fmt.Fprintf(env.Stdout, "\nOK: ClickHouse equals the ground truth for every chain, day and the window (%d events published).\n", res.Published)
	if cfg.TopicPrefix != "" {
		more := ""
		if cfg.TLS.Enabled || cfg.MechanismName() != "" {
			more = " (and the same --kafka-* flags)"
		}
		fmt.Fprintf(env.Stdout, "The events are on topic %s%s: liqstream tail --brokers %s --topic %s%s --from-beginning%s\n",
			cfg.TopicPrefix, topics.Liquidations, strings.Join(cfg.Brokers, ","), cfg.TopicPrefix, topics.Liquidations, more)
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
