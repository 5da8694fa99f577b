// Command bench runs ingest's backfill benchmarks (package bench) and prints
// one line per figure: name, target, measured value, PASS or FAIL. It exits
// 1 when a target is missed and 2 when a harness breaks; with --smoke it
// runs both harnesses with tiny sizes and checks no target.
//
//	bench --kfakebroker bin/kfakebroker [--kafka host:port] [--smoke]
//	      [--only throughput,latency] [--scale 5] [--runs 5]
//	      [--latency 50ms] [--concurrency 8] [--latency-days 20]
//	      [--cpuprofile file] [-v]
//
// Without --kafka it starts the kfakebroker program (a kfake cluster in a
// process of its own) and names it in the output.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/ingest/bench"
	"github.com/liqstream/liqstream/services/lib/benchline"
	"github.com/liqstream/liqstream/services/lib/kfakeproc"
)

func main() {
	ok, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(args []string) (bool, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	kfakeBin := fs.String("kfakebroker", "", "kfakebroker binary (services/aggregator/bench/cmd/kfakebroker); started unless --kafka is given")
	kafka := fs.String("kafka", "", "Kafka brokers to use instead of a kfakebroker process (comma-separated)")
	smoke := fs.Bool("smoke", false, "tiny sizes, no targets checked")
	only := fs.String("only", "throughput,latency", "harnesses to run")
	scale := fs.Float64("scale", 5, "chainsim scale of the throughput run (5: ~65k Polygon events)")
	runs := fs.Int("runs", 5, "timed throughput runs (the median is reported)")
	latency := fs.Duration("latency", 50*time.Millisecond, "latency added to every RPC request in the latency run")
	concurrency := fs.Int("concurrency", 8, "ingest concurrency")
	latencyDays := fs.Int("latency-days", 20, "days of chainsim window in the latency run")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the throughput runs to this file")
	verbose := fs.Bool("v", false, "log ingest's progress to stderr")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if *smoke {
		*scale, *runs, *latency, *latencyDays = 0.05, 1, 5*time.Millisecond, 2
	}

	var brokers []string
	var brokerCPU func() time.Duration
	fixture := "Kafka at " + *kafka
	if *kafka != "" {
		brokers = strings.Split(*kafka, ",")
	} else {
		if *kfakeBin == "" {
			return false, fmt.Errorf("--kfakebroker or --kafka is required")
		}
		b, err := kfakeproc.Start(ctx, *kfakeBin)
		if err != nil {
			return false, err
		}
		defer b.Close()
		brokers, brokerCPU = b.Addrs, b.CPU
		fixture = "kfake process " + strings.Join(b.Addrs, ",")
	}
	rep := &benchline.Reporter{Smoke: *smoke}
	want := map[string]bool{}
	for _, h := range strings.Split(*only, ",") {
		want[strings.TrimSpace(h)] = true
	}

	if want["throughput"] {
		cfg := bench.Config{Scale: *scale, Runs: *runs, Concurrency: *concurrency, Brokers: brokers, Log: log, BrokerCPU: brokerCPU}
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return false, err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return false, err
			}
		}
		res, err := bench.Backfill(ctx, cfg)
		if *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return false, fmt.Errorf("throughput: %w", err)
		}
		m := res.Median
		rep.Line(fmt.Sprintf("ingest backfill, %s, 0 ms RPC", bench.Chain), ">= 50000 events/s",
			fmt.Sprintf("%.0f events/s", m.EventsPerSecond()), m.EventsPerSecond() >= 50_000)
		var each []string
		for _, r := range res.Runs {
			each = append(each, fmt.Sprintf("%.0f", r.EventsPerSecond()))
		}
		fmt.Printf("  %d events (= chainsim truth) over %d blocks, %d RPC requests, concurrency %d, median of %d runs [%s] events/s, %s, transactions as ingest does them\n",
			m.Events, res.Blocks, m.Requests, *concurrency, len(res.Runs), strings.Join(each, " "), fixture)
		fmt.Printf("  median run: %.2fs wall, CPU %.2fs in ingest+chainsim (one process), %.2fs in the broker process; %d cores, load average %s\n",
			m.Elapsed.Seconds(), m.CPU.Seconds(), m.BrokerCPU.Seconds(), runtime.NumCPU(), loadavg())
	}

	if want["latency"] {
		cfg := bench.Config{Scale: 1, Days: *latencyDays, Latency: *latency, Concurrency: *concurrency, Brokers: brokers, Log: log, BrokerCPU: brokerCPU}
		if *smoke {
			cfg.Scale = 0.05
		}
		res, err := bench.Backfill(ctx, cfg)
		if err != nil {
			return false, fmt.Errorf("latency: %w", err)
		}
		floor := res.Floor(cfg)
		ratio := res.Median.Elapsed.Seconds() / floor.Seconds()
		rep.Line(fmt.Sprintf("ingest backfill, %v RPC, concurrency %d", *latency, *concurrency), "<= 1.5x floor",
			fmt.Sprintf("%.2fs / %.2fs = %.2fx", res.Median.Elapsed.Seconds(), floor.Seconds(), ratio), ratio <= 1.5)
		fmt.Printf("  floor = %d requests / %d × %v; %d events over %d blocks, %s\n",
			res.Median.Requests, *concurrency, *latency, res.Median.Events, res.Blocks, fixture)
	}
	return rep.OK(), nil
}

// loadavg returns the 1-minute load average, which says how much of the box
// other processes took during the runs.
func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(raw)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
