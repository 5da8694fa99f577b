package bench

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/liqstream/liqstream/services/lib/kfakeproc"
)

// MemoryConfig sizes the memory harness.
type MemoryConfig struct {
	// Sizes are the backlogs, in events, each measured with a fresh broker,
	// topic and database.
	Sizes      []int
	Partitions int32
	Seed       int64
	// KfakeBin and AggregatorBin are the binaries of cmd/kfakebroker and
	// cmd/aggregator.
	KfakeBin, AggregatorBin string
	ClickHouse              string
	Log                     *slog.Logger
}

// MemoryResult is one backlog's measurement.
type MemoryResult struct {
	Events int
	// PeakRSS is the aggregator's VmHWM in bytes when it had written the
	// whole backlog.
	PeakRSS uint64
	// Took is from the aggregator's start to the last row in ClickHouse.
	Took time.Duration
}

// Memory runs the aggregator binary, with its default settings, over a
// preloaded backlog of each size and reads its peak RSS.
func Memory(ctx context.Context, cfg MemoryConfig) ([]MemoryResult, error) {
	var out []MemoryResult
	for _, n := range cfg.Sizes {
		r, err := memoryRun(ctx, cfg, n)
		if err != nil {
			return out, fmt.Errorf("backlog of %d events: %w", n, err)
		}
		cfg.Log.Info("memory run", "events", n, "peak_rss_mib", r.PeakRSS>>20, "took", r.Took)
		out = append(out, r)
	}
	return out, nil
}

func memoryRun(ctx context.Context, cfg MemoryConfig, n int) (MemoryResult, error) {
	res := MemoryResult{Events: n}
	broker, err := kfakeproc.Start(ctx, cfg.KfakeBin)
	if err != nil {
		return res, err
	}
	defer broker.Close()
	topic := uniqueName("liqstream_bench")
	if err := Preload(ctx, broker.Addrs, topic, cfg.Partitions, n, cfg.Seed); err != nil {
		return res, err
	}
	db, conn, drop, err := database(ctx, cfg.ClickHouse, cfg.Log)
	if err != nil {
		return res, err
	}
	defer drop()
	dir, err := os.MkdirTemp("", "liqstream-bench")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	conf := filepath.Join(dir, "aggregator.yaml")
	// The shared liqstream.yaml format (deploy/config/README.md).
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\nclickhouse:\n  addr: [%q]\n  database: %q\naggregator:\n  kafka:\n    group: %q\n    topic: %q\n    dlq_topic: %q\n  metrics_addr: \"\"\n",
		broker.Addrs[0], cfg.ClickHouse, db, uniqueName("liqstream_bench"), topic, topic+".dlq")
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		return res, err
	}
	logFile, err := os.Create(filepath.Join(dir, "aggregator.log"))
	if err != nil {
		return res, err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(cfg.AggregatorBin, "--config", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting %s (build it with go build ./cmd/aggregator): %w", cfg.AggregatorBin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			tail, _ := os.ReadFile(logFile.Name())
			return res, fmt.Errorf("aggregator exited early: %v\n%s", err, lastLines(string(tail), 10))
		case <-ctx.Done():
			stop()
			return res, ctx.Err()
		case <-tick.C:
		}
		if hwm, err := vmHWM(cmd.Process.Pid); err == nil && hwm > res.PeakRSS {
			res.PeakRSS = hwm
		}
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations").Scan(&rows); err != nil {
			stop()
			return res, err
		}
		if rows >= uint64(n) {
			res.Took = time.Since(began)
			break
		}
	}
	// Let the last window settle, reading the peak until the process exits.
	time.Sleep(time.Second)
	if hwm, err := vmHWM(cmd.Process.Pid); err == nil && hwm > res.PeakRSS {
		res.PeakRSS = hwm
	}
	stop()
	return res, nil
}

// vmHWM reads a process's peak resident set size in bytes.
func vmHWM(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
