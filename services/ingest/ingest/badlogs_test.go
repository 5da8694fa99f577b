package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/chainsim/faults"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestBadLogsDeadLettered backfills Polygon from a provider that serves some
// LiquidationCall logs corrupted inside valid eth_getLogs answers (a topic
// missing, data short or long, removed: true, an absurd amount, a
// non-canonical address topic), into the real Kafka broker. Every corrupted
// log must reach the dead-letter topic exactly once, keyed by chain:tx:log
// with its reason, be counted in decode_errors by reason and be logged with
// its chain, block and transaction; every other event of the truth is published
// exactly once; the run never stops.
func TestBadLogsDeadLettered(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	seed := testsupport.Seed(t)
	f := startSim(t, 137, "polygon", 0.05)
	inj, err := faults.New(faults.Config{Seed: seed, BadLogRate: 0.1}, f.sim.Handler())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(inj)
	t.Cleanup(srv.Close)
	cfg := f.config(brokers)
	cfg.RPCURL = secret.URL(srv.URL + "/" + f.slug)
	cfg.From, cfg.To = "2026-01-10", "2026-02-10"

	var logs testsupport.SyncBuffer
	reader := sdkmetric.NewManualReader()
	in, err := ingest.New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)), sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := in.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	bad := inj.BadLogs()
	kinds := map[string]int{}
	for _, k := range bad {
		kinds[k]++
	}
	if len(kinds) < 4 {
		t.Fatalf("the provider corrupted %d logs of %d kinds (%v); too few to mean anything", len(bad), len(kinds), kinds)
	}
	// Dead letters: exactly the corrupted logs, once each, with their reason.
	lettered := map[string]bool{}
	for _, r := range testsupport.ReadTopic(t, brokers, cfg.Kafka.TopicPrefix+topics.LiquidationsDLQ) {
		key := string(r.Key)
		txLog, ok := strings.CutPrefix(key, "137:")
		if !ok || lettered[key] {
			t.Fatalf("dead letter with key %q: want 137:<tx>:<log>, once", key)
		}
		lettered[key] = true
		kind, ok := bad[txLog]
		if !ok {
			t.Fatalf("dead letter %s is not a corrupted log", key)
		}
		if reason := header(r, topics.HeaderDLQReason); !strings.HasPrefix(reason, kind+": ") {
			t.Errorf("dead letter %s: reason %q, want %q and the error", key, reason, kind)
		}
		tx := strings.Split(txLog, ":")[0]
		named := false
		for _, line := range strings.Split(logs.String(), "\n") {
			named = named || strings.Contains(line, tx) && strings.Contains(line, `"chain":"polygon"`) && strings.Contains(line, `"block":`)
		}
		if !named {
			t.Errorf("dead letter %s: no log line names the chain, block and transaction %s", key, tx)
		}
	}
	if len(lettered) != len(bad) {
		t.Fatalf("%d dead letters for %d corrupted logs", len(lettered), len(bad))
	}
	// decode_errors by reason equals the corruptions by kind.
	for kind, n := range kinds {
		if got := counterSum(t, reader, "decode_errors", "reason", kind); got != int64(n) {
			t.Errorf("decode_errors{reason=%s} = %d, want %d", kind, got, n)
		}
	}
	// Every other event of the window is published exactly once.
	want := map[string]bool{}
	for _, e := range f.sim.Truth().Events(137) {
		id := fmt.Sprintf("%s:%d", strings.ToLower(e.TxHash.Hex()), e.LogIndex)
		if e.BlockNumber >= in.Progress().From && e.BlockNumber < in.Progress().Current && bad[id] == "" {
			want["137:"+id] = true
		}
	}
	got := map[string]bool{}
	for _, r := range testsupport.ReadTopic(t, brokers, cfg.Kafka.TopicPrefix+topics.Liquidations) {
		var ev liqstreamv1.LiquidationEvent
		if err := proto.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if got[ev.EventId] || !want[ev.EventId] {
			t.Fatalf("event %s published twice or not in the truth minus the corrupted logs", ev.EventId)
		}
		got[ev.EventId] = true
	}
	if len(got) != len(want) {
		t.Fatalf("%d events published, want %d (truth minus %d corrupted)", len(got), len(want), len(bad))
	}
	t.Logf("%d events published, %d corrupted logs dead-lettered by kind %v", len(got), len(bad), kinds)
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
