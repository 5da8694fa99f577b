package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestCountingHandlerDelaysAndCounts(t *testing.T) {
	h := &countingHandler{next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), latency: 20 * time.Millisecond}
	start := time.Now()
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	}
	if got := h.n.Load(); got != 3 {
		t.Fatalf("counted %d requests, want 3", got)
	}
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Fatalf("3 requests took %v, want at least 3 × 20ms", el)
	}
}

// TestBackfillSmall runs the harness on a tiny chain against an in-process
// kfake: every event of the truth is published and the figures are filled.
func TestBackfillSmall(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Scale: 0.05, Days: 3, Runs: 2, Latency: time.Millisecond, Brokers: c.ListenAddrs()}
	res, err := Backfill(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Truth == 0 || len(res.Runs) != 2 {
		t.Fatalf("truth %d events, %d runs; want a non-empty truth and 2 runs", res.Truth, len(res.Runs))
	}
	m := res.Median
	if m.Events != uint64(res.Truth) || m.Requests == 0 || m.Elapsed <= 0 {
		t.Fatalf("median run %+v, truth %d", m, res.Truth)
	}
	if f := res.Floor(cfg); f != time.Duration(float64(m.Requests)/8*float64(time.Millisecond)) {
		t.Fatalf("floor %v for %d requests at concurrency 8 and 1ms", f, m.Requests)
	}
	if m.Elapsed < res.Floor(cfg) {
		t.Fatalf("run took %v, below its floor %v: requests are not all delayed", m.Elapsed, res.Floor(cfg))
	}
}
