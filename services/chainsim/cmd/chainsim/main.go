package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger, os.Args[1:]); err != nil {
		logger.Error("chainsim failed", "err", err)
		os.Exit(1)
	}
}

// run parses flags, builds the simulation, writes the truth file if asked
// and serves until SIGINT or SIGTERM.
func run(logger *slog.Logger, args []string) error {
	from, to := sim.DefaultWindow()
	fs := flag.NewFlagSet("chainsim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8545", "address to serve JSON-RPC on")
	seed := fs.Int64("seed", 1, "seed of all generated data")
	scale := fs.Float64("scale", 1, "event-volume multiplier (1 = demo size, ~33k liquidations)")
	fromS := fs.String("from", from.Format(time.DateOnly), "window start, UTC (YYYY-MM-DD or RFC 3339)")
	toS := fs.String("to", to.Format(time.DateOnly), "window end, exclusive, UTC (YYYY-MM-DD or RFC 3339)")
	chainsS := fs.String("chains", "", "comma-separated chain ids (default: 1,137,43114,42161,8453)")
	maxRange := fs.Uint64("max-log-range", 0, "largest eth_getLogs block range (0: no cap)")
	maxResults := fs.Int("max-log-results", 0, "largest eth_getLogs result count (0: no cap)")
	logTimes := fs.Bool("log-block-timestamp", false, "add blockTimestamp to served logs, like geth >= 1.16")
	truthOut := fs.String("truth-out", "", "write the ground truth as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := sim.Config{Seed: *seed, Scale: *scale, MaxLogRange: *maxRange, MaxLogResults: *maxResults, LogBlockTimestamp: *logTimes}
	var err error
	if cfg.From, err = parseTime(*fromS); err != nil {
		return fmt.Errorf("flag --from: %w", err)
	}
	if cfg.To, err = parseTime(*toS); err != nil {
		return fmt.Errorf("flag --to: %w", err)
	}
	if cfg.Chains, err = parseChains(*chainsS); err != nil {
		return fmt.Errorf("flag --chains: %w", err)
	}

	start := time.Now()
	s, err := sim.New(cfg)
	if err != nil {
		return err
	}
	for _, id := range s.Chains() {
		w := s.Truth().Window(id, cfg.From, cfg.To)
		logger.Info("chain generated", "chain_id", id, "events", w.Events, "txs", w.Txs, "borrowers", w.Borrowers,
			"head", s.Head(id), "window_start_block", s.BlockAt(id, cfg.From))
	}
	logger.Info("simulation ready", "seed", cfg.Seed, "scale", cfg.Scale, "took", time.Since(start).Round(time.Millisecond))
	if *truthOut != "" {
		if err := writeTruth(s, *truthOut); err != nil {
			return err
		}
		logger.Info("truth written", "file", *truthOut)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	url, err := s.Serve(ctx, *listen)
	if err != nil {
		return err
	}
	logger.Info("serving JSON-RPC", "url", url, "example", url+"/polygon")
	<-ctx.Done()
	logger.Info("shutting down")
	time.Sleep(100 * time.Millisecond) // let Serve's shutdown finish in-flight requests
	return nil
}

func writeTruth(s *sim.Sim, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating truth file: %w", err)
	}
	if err := s.Truth().WriteJSON(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing truth file: %w", err)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func parseChains(s string) ([]uint64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		id, err := strconv.ParseUint(strings.TrimSpace(part), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("chain id %q: %w", part, err)
		}
		out = append(out, id)
	}
	return out, nil
}
