// Command ingest backfills one chain's Aave liquidations into Kafka and
// optionally follows the head. See package ingest for the contract.
//
//	ingest --chain polygon --rpc-url http://127.0.0.1:8545/polygon --from 2026-01-01 --to 2026-03-01
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

// run returns the exit code: 0 done, 1 runtime failure, 2 bad configuration.
func run(args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	file := fs.String("config", "", "YAML config file (strict: unknown keys fail)")
	chain := fs.String("chain", "", "chain slug or id, e.g. polygon or 137")
	rpcURL := fs.String("rpc-url", "", "JSON-RPC endpoint URL (printed redacted)")
	from := fs.String("from", "", "first block: number, date 2026-01-01 or RFC3339 time")
	to := fs.String("to", "", "end of the window, exclusive, same forms; empty: safe head")
	follow := fs.Bool("follow", false, "keep following the safe head after the backfill")
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics on this address")
	if err := fs.Parse(args); err != nil {
		return 2
	}

	// Precedence, applied once: defaults < file < flags that were given.
	cfg := ingest.DefaultConfig()
	if err := configfile.Load(*file, &cfg); err != nil {
		log.Error("loading config", "err", err)
		return 2
	}
	set := configfile.FlagsSet(fs)
	if set["chain"] {
		cfg.Chain = *chain
	}
	if set["rpc-url"] {
		cfg.RPCURL = secret.URL(*rpcURL)
	}
	if set["from"] {
		cfg.From = *from
	}
	if set["to"] {
		cfg.To = *to
	}
	if set["follow"] {
		cfg.Follow = *follow
	}
	if set["brokers"] {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	}
	if set["metrics-addr"] {
		cfg.MetricsAddr = *metricsAddr
	}
	if err := cfg.Validate(); err != nil {
		log.Error("invalid configuration", "err", err)
		return 2
	}

	tel, err := telemetry.New("ingest")
	if err != nil {
		log.Error("setting up metrics", "err", err)
		return 1
	}
	in, err := ingest.New(cfg, log, tel.Meter())
	if err != nil {
		log.Error("building ingester", "err", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Run group: the ingester and the metrics server; the first to return
	// stops the other.
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 2)
	go func() { errc <- in.Run(ctx); cancel() }()
	go func() { errc <- tel.Serve(ctx, cfg.MetricsAddr, log); cancel() }()
	runErr := errors.Join(<-errc, <-errc)

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = tel.Shutdown(sctx)
	if runErr != nil {
		log.Error("ingest failed", "err", runErr)
		return 1
	}
	p := in.Progress()
	fmt.Fprintf(os.Stderr, "ingest %s: blocks [%d, %d) events %d dead letters %d done %v\n", p.Chain, p.From, p.Current, p.EventsPublished, p.DeadLetters, p.Done)
	return 0
}
