package aggregator_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// dlqRecords reads the dead-letter topic until want records were seen and
// returns them by key.
func dlqRecords(ctx context.Context, t *testing.T, cfg aggregator.Config, want int) map[string]*kgo.Record {
	t.Helper()
	dl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ConsumeTopics(cfg.Kafka.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	out := map[string]*kgo.Record{}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for len(out) < want && pctx.Err() == nil {
		dl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { out[string(r.Key)] = r })
	}
	return out
}

func headerOf(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// scrape returns the Prometheus text of tel.
func scrape(t *testing.T, tel *telemetry.Telemetry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// TestOversizedRecordsAreDeadLettered: a record over kafka.max_record_bytes
// (a valid event padded with unknown fields, so only its size is wrong) goes
// to the dead-letter topic with reason record_too_large, a detail naming the
// key and the source coordinates, and is counted in dlq_records; a record
// too large even for the dead-letter producer goes there without its value
// (HeaderDLQValueOmitted); and the good records produced after them, on the
// same partitions, are all stored exactly once.
func TestOversizedRecordsAreDeadLettered(t *testing.T) {
	cfg, conn, cl := fixture(t)
	cfg.Kafka.MaxRecordBytes = 4 << 10
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	from := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	evs := synth.New(testsupport.Seed(t)).Events(120, from, 24*time.Hour)
	good, big := evs[:100], evs[100:]

	// Oversized records first, each under the key of good events, so the
	// good ones follow it on its partition.
	pad := func(ev proto.Message, n int) []byte {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b = protowire.AppendTag(b, 1001, protowire.BytesType)
		return protowire.AppendBytes(b, bytes.Repeat([]byte{'x'}, n))
	}
	v1 := []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}}
	keyA := topics.Key(good[0].GetChainId(), good[0].GetBorrower())
	var keyB []byte
	for _, ev := range good[1:] {
		if k := topics.Key(ev.GetChainId(), ev.GetBorrower()); !bytes.Equal(k, keyA) {
			keyB = k
			break
		}
	}
	const hugeBytes = 1_010_000 // over the dead-letter producer's 1,000,012-byte batch, under the broker's 1,048,588
	bigCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ProducerBatchMaxBytes(1_040_000))
	if err != nil {
		t.Fatal(err)
	}
	defer bigCl.Close()
	if err := bigCl.ProduceSync(ctx,
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: keyA, Value: pad(big[0], 8<<10), Headers: v1},
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: keyB, Value: pad(big[1], hugeBytes), Headers: v1},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := produce(ctx, cl, cfg.Kafka.Topic, good); err != nil {
		t.Fatal(err)
	}

	tel, err := telemetry.New("aggregator")
	if err != nil {
		t.Fatal(err)
	}
	var logs testsupport.SyncBuffer
	agg, err := aggregator.New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)), tel.Meter())
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agg.Run(rctx) }()
	defer func() {
		rcancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitForTruth(ctx, t, conn, from, to, synth.Group(synth.Latest(good), from, to, nil))
	dl := dlqRecords(ctx, t, cfg, 2)
	first := dl[string(keyA)]
	if first == nil {
		t.Fatalf("oversized record not dead-lettered; got keys %v", keysOf(dl))
	}
	if r := headerOf(first, topics.HeaderDLQReason); r != consume.ReasonRecordTooLarge {
		t.Errorf("reason %q, want %q", r, consume.ReasonRecordTooLarge)
	}
	detail := headerOf(first, topics.HeaderDLQDetail)
	for _, want := range []string{"over kafka.max_record_bytes 4096", "raise kafka.max_record_bytes"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail %q does not say %q", detail, want)
		}
	}
	if src := headerOf(first, topics.HeaderDLQSource); !strings.HasPrefix(src, cfg.Kafka.Topic+"/") || len(first.Value) < 8<<10 {
		t.Errorf("source %q, value %d bytes: want the source coordinates and the whole value", src, len(first.Value))
	}
	huge := dl[string(keyB)]
	if huge == nil {
		t.Fatalf("the record too large for the dead-letter producer was not dead-lettered; got keys %v; log:\n%s", keysOf(dl), logs.String())
	}
	if len(huge.Value) != 0 || headerOf(huge, consume.HeaderDLQValueOmitted) == "" || headerOf(huge, topics.HeaderDLQReason) != consume.ReasonRecordTooLarge {
		t.Errorf("huge record's copy: %d value bytes, omitted %q, reason %q", len(huge.Value),
			headerOf(huge, consume.HeaderDLQValueOmitted), headerOf(huge, topics.HeaderDLQReason))
	}
	if n, _ := strconv.Atoi(headerOf(huge, consume.HeaderDLQValueOmitted)); n < hugeBytes {
		t.Errorf("omitted %d bytes, want at least %d", n, hugeBytes)
	}
	for _, ev := range big {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations WHERE event_id = @id", namedID(ev.GetEventId())...).Scan(&n); err != nil || n != 0 {
			t.Errorf("oversized event %s stored %d times (%v), want 0", ev.GetEventId(), n, err)
		}
	}
	testsupport.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool {
		return strings.Contains(scrape(t, tel), `dlq_records_total{reason="record_too_large"} 2`)
	}, "dlq_records_total{reason=record_too_large} never reached 2:\n%s", scrape(t, tel))
	if !strings.Contains(logs.String(), "without its value") {
		t.Errorf("value omission not logged:\n%s", logs.String())
	}
}

func keysOf(m map[string]*kgo.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLimitsValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*consume.Limits)
		key    string
	}{
		{"zero record", func(l *consume.Limits) { l.MaxRecordBytes = 0 }, "kafka.max_record_bytes"},
		{"negative fetch", func(l *consume.Limits) { l.FetchMaxBytes = -1 }, "kafka.fetch_max_bytes"},
		{"zero partition", func(l *consume.Limits) { l.FetchMaxPartitionBytes = 0 }, "kafka.fetch_max_partition_bytes"},
		{"huge read", func(l *consume.Limits) { l.BrokerMaxReadBytes = 2 << 30 }, "kafka.broker_max_read_bytes"},
		{"partition over fetch", func(l *consume.Limits) { l.FetchMaxPartitionBytes = l.FetchMaxBytes + 1 }, "kafka.fetch_max_partition_bytes"},
		{"read under fetch", func(l *consume.Limits) { l.BrokerMaxReadBytes = l.FetchMaxBytes - 1 }, "kafka.broker_max_read_bytes"},
		{"read under record", func(l *consume.Limits) { l.MaxRecordBytes = l.BrokerMaxReadBytes }, "kafka.broker_max_read_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := aggregator.DefaultConfig()
			tt.mutate(&cfg.Kafka.Limits)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.key)
			}
		})
	}
	if got := aggregator.DefaultConfig().Kafka.Limits; got != consume.DefaultLimits() || got.MaxRecordBytes != 1<<20 {
		t.Fatalf("default limits %+v", got)
	}
}
