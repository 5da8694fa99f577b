// Command ingest backfills one chain's Aave liquidations into Kafka and
// optionally follows the head. See package ingest for the contract.
//
//	ingest --config liqstream.yaml --chain polygon [--from 2026-01-01] [--to 2026-03-01] [--follow]
//	ingest --chain polygon --rpc-url http://127.0.0.1:8545/polygon --from 2026-01-01 --to 2026-03-01
//
// Settings apply as defaults < the file's kafka, ingest and chains.<chain>
// sections (deploy/config/README.md) < flags. On a terminal a backfill draws
// a progress bar with an ETA; otherwise it logs progress lines.
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

	"golang.org/x/term"

	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/ingest/progress"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/cliargs"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
)

func main() { os.Exit(run(os.Args[1:])) }

// run returns the exit code: 0 done, 1 runtime failure, 2 bad configuration.
func run(args []string) int {
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	bar := progress.New(os.Stderr, tty, func() int {
		w, _, err := term.GetSize(int(os.Stderr.Fd()))
		if err != nil {
			return 0
		}
		return w
	})
	log := slog.New(slog.NewTextHandler(bar.Writer(), nil))

	cfg, code := config(args, log)
	if code >= 0 {
		return code
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
	in.QuietProgress() // the reporter below shows it

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Run group: the ingester and the metrics server; the first to return
	// stops the other. The progress reporter stops after both.
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 2)
	go func() { errc <- in.Run(ctx); cancel() }()
	go func() { errc <- tel.Serve(ctx, cfg.MetricsAddr, log, telemetry.WithReadiness(in.Ready)); cancel() }()
	repCtx, repStop := context.WithCancel(context.Background())
	repDone := make(chan struct{})
	go func() {
		defer close(repDone)
		bar.Run(repCtx, func() progress.Snapshot { return snapshot(in.Progress()) }, cfg.ProgressInterval, log)
	}()
	runErr := errors.Join(<-errc, <-errc)
	repStop()
	<-repDone

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

// config builds the validated config from the file and the flags, once:
// defaults < file (ingest.FromFile) < flags that were given. code is the
// exit code when it fails, -1 otherwise.
func config(args []string, log *slog.Logger) (cfg ingest.Config, code int) {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	file := fs.String("config", "", "liqstream.yaml (deploy/config/README.md); its kafka, ingest and chains.<chain> sections apply")
	chain := fs.String("chain", "", "chain slug or id, e.g. polygon or 137 (required unless the file configures one chain)")
	rpcURL := fs.String("rpc-url", "", "JSON-RPC endpoint URL, replacing the file's rpc_url and rpc_urls (printed redacted)")
	from := fs.String("from", "", "first block: number, date 2026-01-01 or RFC3339 time")
	to := fs.String("to", "", "end of the window, exclusive, same forms; empty: safe head")
	follow := fs.Bool("follow", false, "keep following the safe head after the backfill")
	brokers := fs.String("brokers", "", "comma-separated Kafka brokers (kafka.brokers)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics on this address (metrics_addr)")
	kflags := kafkaconn.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, 2
	}
	if err := cliargs.None(fs); err != nil {
		log.Error(err.Error())
		return cfg, 2
	}
	var f *configfile.File
	if *file != "" {
		var err error
		if f, err = configfile.Open(*file); err != nil {
			log.Error("reading config", "err", err)
			return cfg, 2
		}
	}
	if *chain == "" {
		// A file configuring exactly one chain names it.
		slugs, err := ingest.FileChains(f)
		if err != nil || len(slugs) != 1 {
			log.Error("--chain is required: the chain to ingest, a key under chains in the file", "file_chains", strings.Join(slugs, ", "),
				"chains", strings.Join(chains.Default().Slugs(), ", "), "err", err)
			return cfg, 2
		}
		*chain = slugs[0]
	}
	cfg, err := ingest.FromFile(f, *chain)
	if err != nil {
		log.Error("invalid config file", "err", err, "check", "liqstream config check --file "+*file)
		return cfg, 2
	}
	set := configfile.FlagsSet(fs)
	if set["rpc-url"] {
		cfg.RPCURL, cfg.RPCURLs = secret.URL(*rpcURL), nil
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
	if err := kflags.Apply(&cfg.Kafka.Conn, nil); err != nil {
		log.Error("invalid Kafka flags", "err", err)
		return cfg, 2
	}
	if err := cfg.Validate(); err != nil {
		log.Error("invalid configuration", "err", err)
		return cfg, 2
	}
	return cfg, -1
}

// snapshot is what the progress reporter needs of the ingester's progress.
func snapshot(p ingest.Progress) progress.Snapshot {
	return progress.Snapshot{
		Chain:       p.Chain,
		Started:     p.From > 0 || p.To > 0 || p.Current > 0,
		From:        p.From,
		To:          p.To,
		Current:     p.Current,
		Events:      p.EventsPublished,
		DeadLetters: p.DeadLetters,
	}
}
