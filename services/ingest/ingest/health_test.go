package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/chainsim/faults"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
)

// getURL fetches a URL and returns the status and body.
func getURL(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestReadyzFollowsCatchUp runs a real ingest (follow mode, real Kafka,
// chainsim behind 5ms of latency per request) with its /readyz served by
// telemetry, and requires: 503 "starting" before Run; 503 "catching up"
// with the head lag while it backfills 3,000 blocks; 200 once within
// 2 × confirmations of the head; 503 again when the head jumps 2,000
// blocks; 200 after it caught up again. /metrics shows the head-lag gauges.
func TestReadyzFollowsCatchUp(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	f := startSim(t, 1, "ethereum", 0.1)
	inj, err := faults.New(faults.Config{Seed: 1, Latency: 5 * time.Millisecond}, f.sim.Handler())
	if err != nil {
		t.Fatal(err)
	}
	slow := httptest.NewServer(inj)
	defer slow.Close()

	head := f.sim.Head(1)
	const confirmations = 64
	cfg := f.config(brokers)
	cfg.RPCURL = secret.URL(slow.URL + "/ethereum")
	cfg.From, cfg.To, cfg.Follow = fmt.Sprint(head-3000), "", true
	cfg.Confirmations = confirmations
	cfg.LogRange, cfg.Concurrency, cfg.PollInterval = 100, 1, 20*time.Millisecond
	tel, err := telemetry.New("ingest")
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(cfg, testLogger(t), tel.Meter())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- tel.ServeListener(ctx, ln, nil, telemetry.WithReadiness(in.Ready)) }()
	base := "http://" + ln.Addr().String()

	if code, body := getURL(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz before Run: %d %q", code, body)
	}
	if code, body := getURL(t, base+"/readyz"); code != 503 || !strings.Contains(body, "ingest of ethereum is starting") {
		t.Fatalf("/readyz before Run: %d %q, want 503 starting", code, body)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- in.Run(runCtx) }()

	// waitReady polls /readyz until 200 and returns the 503 reasons seen.
	waitReady := func(what string) []string {
		t.Helper()
		var reasons []string
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			code, body := getURL(t, base+"/readyz")
			if code == 200 {
				return reasons
			}
			if code != 503 || !strings.HasPrefix(body, "not ready: ") {
				t.Fatalf("/readyz %s: %d %q", what, code, body)
			}
			if len(reasons) == 0 || reasons[len(reasons)-1] != body {
				reasons = append(reasons, body)
			}
			if err := in.Progress().Err; err != nil {
				t.Fatalf("ingest stopped: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("/readyz %s: not ready after 60s; reasons %q; progress %+v", what, reasons, in.Progress())
		return nil
	}
	sawLag := func(reasons []string) bool {
		for _, r := range reasons {
			if strings.Contains(r, "is catching up: head lag") && strings.Contains(r, "> 128 (health.max_head_lag_blocks") {
				return true
			}
		}
		return false
	}
	reasons := waitReady("during the backfill")
	if !sawLag(reasons) {
		t.Fatalf("never reported the head lag while backfilling 3000 blocks; reasons %q", reasons)
	}
	p := in.Progress()
	if lag := int64(f.sim.Head(1)) - int64(p.Current); lag > 2*confirmations {
		t.Fatalf("ready with head lag %d > %d", lag, 2*confirmations)
	}
	_, metrics := getURL(t, base+"/metrics")
	for _, want := range []string{`ingest_head_lag_blocks{chain="ethereum"`, `ingest_head_lag_seconds{chain="ethereum"`, `rpc_request_duration_seconds_count{`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The ingest sees the new head at its next poll (20ms): wait for the
	// 503, then for the catch-up.
	f.sim.SetHead(1, f.sim.Head(1)+2000)
	var lagging string
	testsupport.Eventually(t, 10*time.Second, 2*time.Millisecond, func() bool {
		code, body := getURL(t, base+"/readyz")
		lagging = body
		return code == 503
	}, "/readyz stayed 200 after the head jumped 2000 blocks")
	reasons = append([]string{lagging}, waitReady("after the head jumped 2000 blocks")...)
	if !sawLag(reasons) {
		t.Fatalf("never reported the head lag after the head jumped; reasons %q", reasons)
	}
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if code, body := getURL(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz after Run: %d %q", code, body)
	}
	cancel()
	if err := <-srvDone; err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Logf("%d distinct 503 reasons after the jump, first %q, last %q", len(reasons), reasons[0], reasons[len(reasons)-1])
}
