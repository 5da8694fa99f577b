package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/faults"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/lib/cliargs"
	"github.com/liqstream/liqstream/services/lib/configfile"
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
	maxRequest := fs.Int64("max-request-bytes", sim.DefaultMaxRequestBytes, "largest JSON-RPC request body served; larger ones get HTTP 413")
	omitTimes := fs.Bool("omit-log-block-timestamp", false, "leave blockTimestamp out of served logs, like older nodes (served by default, like current geth, reth and erigon)")
	multicallS := fs.String("multicall3-blocks", "", "comma-separated chain=block: where Multicall3 is deployed (default: the real deployment blocks)")
	truthOut := fs.String("truth-out", "", "write the ground truth as JSON to this file")
	faultsFile := fs.String("faults", "", "YAML of simulated providers (package faults), each served at /<name>/<chain>")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cliargs.None(fs); err != nil {
		return err
	}
	cfg := sim.Config{Seed: *seed, Scale: *scale, MaxLogRange: *maxRange, MaxLogResults: *maxResults, OmitLogBlockTimestamp: *omitTimes, MaxRequestBytes: *maxRequest}
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
	if cfg.Multicall3Blocks, err = parseBlocks(*multicallS); err != nil {
		return fmt.Errorf("flag --multicall3-blocks: %w", err)
	}

	var ff faults.File
	if *faultsFile != "" {
		if err := configfile.Load(*faultsFile, &ff); err != nil {
			return fmt.Errorf("flag --faults: %w", err)
		}
	}

	start := time.Now()
	s, err := sim.New(cfg)
	if err != nil {
		return err
	}
	s.SetLogger(logger)
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
	var url string
	if len(ff.Providers) == 0 {
		if url, err = s.Serve(ctx, *listen); err != nil {
			return err
		}
	} else {
		named, err := faults.NewNamed(ff, s.Handler())
		if err != nil {
			return fmt.Errorf("flag --faults: %w", err)
		}
		if url, err = serve(ctx, *listen, faults.Route(s.Handler(), named)); err != nil {
			return err
		}
		for name := range named {
			logger.Info("simulated provider", "name", name, "example", url+"/"+name+"/polygon")
		}
	}
	logger.Info("serving JSON-RPC", "url", url, "example", url+"/polygon")
	<-ctx.Done()
	logger.Info("shutting down")
	time.Sleep(100 * time.Millisecond) // let Serve's shutdown finish in-flight requests
	return nil
}

// serve runs h on addr until ctx is cancelled and returns the base URL.
func serve(ctx context.Context, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
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

// parseBlocks reads "chain=block,…".
func parseBlocks(s string) (map[uint64]uint64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[uint64]uint64{}
	for _, part := range strings.Split(s, ",") {
		c, b, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want chain=block, e.g. 137=25770160", part)
		}
		id, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("chain id %q: %w", c, err)
		}
		n, err := strconv.ParseUint(b, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("block %q: %w", b, err)
		}
		out[id] = n
	}
	return out, nil
}
