// Command bench runs the aggregator's benchmark harnesses (package bench)
// and prints one line per figure: name, target, measured value, PASS or
// FAIL. It exits 1 when a target is missed; with --smoke it runs every
// harness with tiny sizes and checks no target.
//
//	bench --kfakebroker bin/kfakebroker --aggregator bin/aggregator
//	      [--clickhouse 127.0.0.1:19000] [--kafka 127.0.0.1:19092] [--smoke]
//	      [--only throughput,latency,memory] [--events 2000000] [--runs 5]
//	      [--memory-sizes 1000000,10000000]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/aggregator/bench"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/ingest/ingest"
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
	kfakeBin := fs.String("kfakebroker", "", "kfakebroker binary (go build ./bench/cmd/kfakebroker)")
	aggBin := fs.String("aggregator", "", "aggregator binary (go build ./cmd/aggregator), for the memory harness")
	chAddr := fs.String("clickhouse", envOr("LIQSTREAM_TEST_CLICKHOUSE_ADDR", "127.0.0.1:19000"), "ClickHouse native address")
	kafka := fs.String("kafka", envOr("LIQSTREAM_TEST_KAFKA_BROKERS", "127.0.0.1:19092"), "real Kafka brokers for the reference figure (empty: skip)")
	smoke := fs.Bool("smoke", false, "run every harness briefly with tiny sizes; check no target")
	only := fs.String("only", "throughput,latency,memory", "harnesses to run")
	events := fs.Int("events", 2_000_000, "throughput: events preloaded")
	runs := fs.Int("runs", 5, "throughput: runs (median reported)")
	realEvents := fs.Int("real-events", 0, "throughput on the real Kafka: events (0: same as --events)")
	realRuns := fs.Int("real-runs", 1, "throughput on the real Kafka: runs")
	memSizes := fs.String("memory-sizes", "1000000,10000000", "memory: backlog sizes, comma-separated; the first and last are compared")
	latEvents := fs.Int("latency-events", 500, "latency: at least this many events measured")
	maxRecords := fs.Int("max-records", 0, "throughput: the consumer's batch.max_records (0: its default)")
	seed := fs.Int64("seed", 1, "seed of the synthetic events and of chainsim")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this process over the throughput harness to this file")
	memprofile := fs.String("memprofile", "", "write an allocation profile of this process, taken after the throughput harness, to this file")
	verbose := fs.Bool("v", false, "log progress, and every settled window of the consumer, to stderr")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *smoke {
		*events, *runs, *realEvents, *realRuns, *memSizes, *latEvents = 20_000, 1, 5_000, 1, "20000,40000", 50
	}
	if *realEvents == 0 {
		*realEvents = *events
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &benchline.Reporter{Smoke: *smoke}
	want := map[string]bool{}
	for _, h := range strings.Split(*only, ",") {
		want[strings.TrimSpace(h)] = true
	}

	if want["throughput"] {
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return false, err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return false, err
			}
		}
		err := throughput(ctx, r, log, *kfakeBin, *kafka, *chAddr, *events, *runs, *realEvents, *realRuns, *maxRecords, *seed)
		if *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return false, err
		}
		if *memprofile != "" {
			f, err := os.Create(*memprofile)
			if err != nil {
				return false, err
			}
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return false, fmt.Errorf("writing the allocation profile: %w", err)
			}
		}
	}
	if want["latency"] {
		if err := latency(ctx, r, log, *kfakeBin, *chAddr, *latEvents, *seed); err != nil {
			return false, err
		}
	}
	if want["memory"] {
		var sizes []int
		for _, s := range strings.Split(*memSizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return false, fmt.Errorf("--memory-sizes: %q is not a positive count", s)
			}
			sizes = append(sizes, n)
		}
		if err := memory(ctx, r, log, *kfakeBin, *aggBin, *chAddr, sizes, *seed); err != nil {
			return false, err
		}
	}
	return r.OK(), nil
}

// cpuSplit describes where the CPU time of the median pipeline run went:
// the consumer (this process) and, when it runs on this machine, the
// ClickHouse server, against the cores the wall time offered.
func cpuSplit(res bench.ThroughputResult) string {
	if len(res.Runs) == 0 {
		return "no run"
	}
	med := bench.Median(res.Pipeline)
	i := slices.IndexFunc(res.Pipeline, func(v float64) bool { return v == med })
	if i < 0 { // an even count: the median is between two runs
		i = len(res.Runs) / 2
	}
	pr := res.Runs[i]
	server := "ClickHouse server not on this machine"
	if pr.ServerCPU > 0 {
		server = fmt.Sprintf("ClickHouse server %.1fs", pr.ServerCPU.Seconds())
	}
	busy := (pr.ConsumerCPU + pr.ServerCPU).Seconds() / (pr.Wall.Seconds() * float64(runtime.NumCPU()))
	return fmt.Sprintf("consumer %.1fs, %s, over %.1fs wall on %d cores (%.0f%% of them, the broker process aside)",
		pr.ConsumerCPU.Seconds(), server, pr.Wall.Seconds(), runtime.NumCPU(), 100*busy)
}

// localServerCPU returns a reader of the CPU time of the ClickHouse server
// processes on this machine when addr is a loopback address, nil otherwise
// (or when none is found).
func localServerCPU(addr string) func() time.Duration {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmd), "\x00")
		if base := filepath.Base(args[0]); base == "clickhouse-server" || (base == "clickhouse" && len(args) > 1 && args[1] == "server") {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil
	}
	return func() time.Duration {
		var sum time.Duration
		for _, pid := range pids {
			sum += kfakeproc.ProcessCPU(pid)
		}
		return sum
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func throughput(ctx context.Context, r *benchline.Reporter, log *slog.Logger, kfakeBin, kafka, chAddr string, events, runs, realEvents, realRuns, maxRecords int, seed int64) error {
	broker, err := kfakeproc.Start(ctx, kfakeBin)
	if err != nil {
		return err
	}
	cfg := bench.ThroughputConfig{
		Events: events, Runs: runs, Partitions: 6, Seed: seed, Brokers: broker.Addrs, ClickHouse: chAddr,
		Consumer: consume.DefaultConfig(), Log: log, ServerCPU: localServerCPU(chAddr),
	}
	if maxRecords > 0 {
		cfg.Consumer.Batch.MaxRecords = maxRecords
	}
	began := time.Now()
	res, err := bench.Throughput(ctx, cfg)
	broker.Close()
	if err != nil {
		return fmt.Errorf("throughput on kfake: %w", err)
	}
	p, b := bench.Median(res.Pipeline), bench.Median(res.Bare)
	name := fmt.Sprintf("throughput %s events, kfake process (median of %d)", short(events), runs)
	r.Line(name, ">= 250000 events/s", fmt.Sprintf("%.0f events/s", p), p >= 250_000)
	// Each pipeline run is held to the bare insert of the same run (they run
	// back to back); the median of those ratios is the figure.
	ratio := bench.Median(res.Ratios())
	r.Line("throughput vs bare clickhouse-go insert", ">= 0.70 x bare (same run)", fmt.Sprintf("%.2f x (median of %d runs)", ratio, len(res.Ratios())), ratio >= 0.7)
	r.Info("runs (events/s)", fmt.Sprintf("pipeline %s; bare %s; %s in all", ints(res.Pipeline), ints(res.Bare), time.Since(began).Round(time.Second)))
	r.Info("pipeline / bare, run by run", fmt.Sprintf("%s; ratio of the medians %.2f (bare median %.0f events/s)", ratios(res.Ratios()), p/b, b))
	r.Info("median pipeline run, CPU", cpuSplit(res))
	if kafka == "" {
		r.Info("real Kafka", "skipped (--kafka empty)")
		return nil
	}
	cfg.Brokers, cfg.Events, cfg.Runs = strings.Split(kafka, ","), realEvents, realRuns
	res, err = bench.Throughput(ctx, cfg)
	if err != nil {
		return fmt.Errorf("throughput on the real Kafka at %s: %w", kafka, err)
	}
	r.Info(fmt.Sprintf("real Kafka %s, %s events", kafka, short(realEvents)),
		fmt.Sprintf("%.0f events/s (median of %d; bare %.0f events/s)", bench.Median(res.Pipeline), realRuns, bench.Median(res.Bare)))
	return nil
}

func ratios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func ints(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, " ")
}

func latency(ctx context.Context, r *benchline.Reporter, log *slog.Logger, kfakeBin, chAddr string, events int, seed int64) error {
	broker, err := kfakeproc.Start(ctx, kfakeBin)
	if err != nil {
		return err
	}
	defer broker.Close()
	poll := ingest.DefaultConfig().PollInterval // default settings, as the target asks
	res, err := bench.Latency(ctx, bench.LatencyConfig{
		Events: events, PerStep: 10, PollInterval: poll, QueryInterval: 10 * time.Millisecond, Seed: seed,
		Brokers: broker.Addrs, ClickHouse: chAddr, Log: log,
	})
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	p99 := res.Quantile(0.99)
	r.Line(fmt.Sprintf("latency final block -> rollup, p99 (%d events)", len(res.Latencies)), "<= 1s",
		p99.Round(time.Millisecond).String(), p99 <= time.Second)
	r.Info("p50 / p90 / max", fmt.Sprintf("%s / %s / %s (ingest poll_interval %s, aggregator defaults: max_wait %s)",
		res.Quantile(0.5).Round(time.Millisecond), res.Quantile(0.9).Round(time.Millisecond), res.Quantile(1).Round(time.Millisecond),
		poll, consume.DefaultConfig().Batch.MaxWait))
	return nil
}

func memory(ctx context.Context, r *benchline.Reporter, log *slog.Logger, kfakeBin, aggBin, chAddr string, sizes []int, seed int64) error {
	res, err := bench.Memory(ctx, bench.MemoryConfig{
		Sizes: sizes, Partitions: 6, Seed: seed, KfakeBin: kfakeBin, AggregatorBin: aggBin, ClickHouse: chAddr, Log: log,
	})
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	var peak uint64
	for _, m := range res {
		peak = max(peak, m.PeakRSS)
		r.Info(fmt.Sprintf("aggregator peak RSS, %s backlog", short(m.Events)),
			fmt.Sprintf("%d MiB (backlog written in %s, %.0f events/s)", m.PeakRSS>>20, m.Took.Round(time.Second), float64(m.Events)/m.Took.Seconds()))
	}
	r.Line("aggregator peak RSS (VmHWM)", "<= 512 MiB", fmt.Sprintf("%d MiB", peak>>20), peak <= 512<<20)
	lo, hi := res[0], res[len(res)-1]
	growth := float64(hi.PeakRSS)/float64(lo.PeakRSS) - 1
	r.Line(fmt.Sprintf("peak RSS %s vs %s backlog", short(hi.Events), short(lo.Events)), "within 10%",
		fmt.Sprintf("%+.1f%% (%d vs %d MiB)", 100*growth, hi.PeakRSS>>20, lo.PeakRSS>>20), growth <= 0.10 && growth >= -0.10)
	return nil
}
