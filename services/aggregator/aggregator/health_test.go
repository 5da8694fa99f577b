package aggregator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"go.opentelemetry.io/otel/metric/noop"
)

// TestReadyFollowsConsumerLag runs a real aggregator (real Kafka and
// ClickHouse) with health.max_consumer_lag_records 100 and a 1s batch
// window, and requires: "starting" before Run; ready once the group is
// joined on an empty topic; not ready with the consumer lag as the reason
// right after 3,000 records land (they stay uncommitted for at least the
// 1s window); ready again once they are committed; "stopped" after Run.
func TestReadyFollowsConsumerLag(t *testing.T) {
	cfg, _, cl := fixture(t)
	cfg.Health.MaxConsumerLagRecords = 100
	cfg.Batch.MaxWait = time.Second
	cfg.Batch.MaxRecords = 20_000
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	agg, err := aggregator.New(cfg, quietLog(), noop.NewMeterProvider().Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	if err := agg.Ready(ctx); err == nil || !strings.Contains(err.Error(), "aggregator is starting") {
		t.Fatalf("before Run: Ready = %v, want starting", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- agg.Run(runCtx) }()

	// until polls Ready until want accepts its answer and returns it.
	until := func(what string, timeout time.Duration, want func(error) bool) error {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			err := agg.Ready(ctx)
			if want(err) {
				return err
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after %s Ready = %v", what, timeout, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	isReady := func(err error) bool { return err == nil }
	until("ready on an empty topic", 60*time.Second, isReady)

	g := synth.New(testsupport.Seed(t))
	evs := g.Events(3000, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 24*time.Hour)
	if err := produce(ctx, cl, cfg.Kafka.Topic, evs); err != nil {
		t.Fatal(err)
	}
	lagging := until("consumer-lag reason after producing 3000 records", 10*time.Second, func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "(health.max_consumer_lag_records)")
	})
	if !strings.Contains(lagging.Error(), "consumer lag ") || !strings.Contains(lagging.Error(), "records > 100") {
		t.Fatalf("reason %q", lagging)
	}
	until("ready after the records were committed", 60*time.Second, isReady)
	if s := agg.Stats(); s.RowsWritten != 3000 {
		t.Fatalf("ready with %d of 3000 rows written", s.RowsWritten)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := agg.Ready(ctx); err == nil || !strings.Contains(err.Error(), "aggregator stopped") {
		t.Fatalf("after Run: Ready = %v, want stopped", err)
	}
	t.Logf("lagging reason: %v", lagging)
}
