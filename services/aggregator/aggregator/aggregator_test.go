package aggregator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/proto"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fixture is a migrated database, fresh topics and a config pointing at them.
func fixture(t *testing.T) (aggregator.Config, driver.Conn, *kgo.Client) {
	t.Helper()
	brokers := testsupport.KafkaBrokers(t)
	chAddr := testsupport.ClickHouseAddr(t)
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := migrate.Run(ctx, conn, db, quietLog()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	cfg := aggregator.DefaultConfig()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Group = testsupport.UniqueName("liqstream_test_group")
	cfg.Kafka.Topic = testsupport.UniqueName("liqstream_test_liquidations")
	cfg.Kafka.DLQTopic = cfg.Kafka.Topic + "_dlq"
	cfg.Batch.MaxRecords = 700
	cfg.Batch.MaxWait = 100 * time.Millisecond
	cfg.ClickHouse.Addr = []string{chAddr}
	cfg.ClickHouse.Database = db
	cfg.MetricsAddr = ""

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		_, _ = adm.DeleteTopics(dctx, cfg.Kafka.Topic, cfg.Kafka.DLQTopic)
		cl.Close()
	})
	for topic, parts := range map[string]int32{cfg.Kafka.Topic: topics.Partitions, cfg.Kafka.DLQTopic: 1} {
		resp, err := adm.CreateTopic(ctx, parts, -1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating topic %s: %v", topic, err)
		}
	}
	return cfg, conn, cl
}

func produce(ctx context.Context, cl *kgo.Client, topic string, evs []*liqstreamv1.LiquidationEvent) error {
	recs := make([]*kgo.Record, 0, len(evs))
	for _, ev := range evs {
		b, err := proto.Marshal(ev)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: topics.Key(ev.GetChainId(), ev.GetBorrower()), Value: b,
			Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}, {Key: topics.HeaderContentType, Value: []byte("application/x-protobuf")}}})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing %d records: %w", len(recs), err)
	}
	return nil
}

type running struct {
	agg    *aggregator.Aggregator
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg aggregator.Config) *running {
	t.Helper()
	agg, err := aggregator.New(cfg, quietLog(), noop.NewMeterProvider().Meter("test"))
	if err != nil {
		t.Fatalf("aggregator.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{agg: agg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- agg.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("aggregator.Run returned %v after cancel, want nil", err)
		}
	case <-time.After(40 * time.Second):
		t.Error("aggregator did not stop within 40s of cancel")
	}
}

func TestEndToEndRestartMidStreamStaysExactAndDeadLettersPoison(t *testing.T) {
	cfg, conn, cl := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	g := synth.New(testsupport.Seed(t))
	from := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	to := from.Add(6 * 24 * time.Hour)
	evs := g.Events(8000, from, 5*24*time.Hour)
	for i := 0; i < len(evs); i += 9 { // higher revisions and retractions on the stream
		if i%2 == 0 {
			evs = append(evs, g.Revise(evs[i]))
		} else {
			evs = append(evs, synth.Retract(evs[i]))
		}
	}
	half := len(evs) / 2

	if err := produce(ctx, cl, cfg.Kafka.Topic, evs[:half]); err != nil {
		t.Fatal(err)
	}
	// Poison: bytes that are not a LiquidationEvent, and a decodable event
	// the store rejects (no status).
	bad := proto.Clone(evs[0]).(*liqstreamv1.LiquidationEvent)
	bad.Status = liqstreamv1.Status_STATUS_UNSPECIFIED
	badBytes, _ := proto.Marshal(bad)
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: []byte("1:0xpoison"), Value: []byte{0xff, 0xff, 0xff, 0x01, 0x02}},
		&kgo.Record{Topic: cfg.Kafka.Topic, Key: []byte("1:0xinvalid"), Value: badBytes},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	first := start(t, cfg)
	// Restart mid-stream: stop once some batches are written, while the
	// second half is being produced.
	testsupport.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return first.agg.Stats().Batches >= 2 }, "first aggregator wrote no batch")
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, cl, cfg.Kafka.Topic, evs[half:]) }()
	first.stop(t)
	s1 := first.agg.Stats()
	if s1.LastCommit.IsZero() {
		t.Errorf("first aggregator never committed: %+v", s1)
	}
	second := start(t, cfg)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}

	want := synth.Group(synth.Latest(evs), from, to, nil)
	var got []query.ChainSummary
	testsupport.Eventually(t, 40*time.Second, 200*time.Millisecond, func() bool {
		var err error
		got, err = query.CycleSummary(ctx, conn, from, to)
		if err != nil {
			t.Logf("CycleSummary: %v", err)
			return false
		}
		if len(got) != len(want) {
			return false
		}
		for _, s := range got {
			w, ok := want[synth.Key{ChainID: s.ChainID}]
			if !ok || !w.Equal(synth.Totals{Chain: s.Chain, CollateralUSD: s.CollateralUSD, DebtUSD: s.DebtUSD, Events: s.Events, Txs: s.Txs, Borrowers: s.Borrowers}) {
				return false
			}
		}
		return true
	}, "rollup totals never matched the produced events: got %v, want %v", got, want)

	raw, err := query.CycleSummaryRaw(ctx, conn, from, to)
	if err != nil || len(raw) != len(got) {
		t.Fatalf("CycleSummaryRaw = %v, %v", raw, err)
	}
	for i := range raw {
		if raw[i].Events != got[i].Events || raw[i].CollateralUSD.Cmp(got[i].CollateralUSD) != 0 || raw[i].Txs != got[i].Txs {
			t.Errorf("raw %+v disagrees with rollup %+v", raw[i], got[i])
		}
	}
	// Counters move when a window settles, just after its rollups are
	// visible: read them once the aggregator stopped.
	second.stop(t)
	s2 := second.agg.Stats()
	t.Logf("first run %+v; second run %+v; produced %d events + 2 poison", s1, s2, len(evs))
	if total := s1.RecordsConsumed + s2.RecordsConsumed; total < uint64(len(evs)+2) {
		t.Errorf("consumed %d records, want at least %d", total, len(evs)+2)
	}

	// The dead-letter topic holds both poison records with their reasons.
	dl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ConsumeTopics(cfg.Kafka.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	reasons := map[string]string{}
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	for len(reasons) < 2 && pctx.Err() == nil {
		dl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDLQReason {
					reasons[string(r.Key)] = string(h.Value)
				}
			}
		})
	}
	if reasons["1:0xpoison"] != consume.ReasonUndecodable || reasons["1:0xinvalid"] != consume.ReasonInvalidEvent {
		t.Errorf("dead-letter reasons = %v, want undecodable and invalid_event", reasons)
	}
	if s1.DLQRecords+s2.DLQRecords < 2 {
		t.Errorf("DLQRecords = %d + %d, want >= 2", s1.DLQRecords, s2.DLQRecords)
	}
}

func TestConfigValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*aggregator.Config)
		key    string
	}{
		{"no brokers", func(c *aggregator.Config) { c.Kafka.Brokers = nil }, "kafka.brokers"},
		{"no group", func(c *aggregator.Config) { c.Kafka.Group = "" }, "kafka.group"},
		{"no topic", func(c *aggregator.Config) { c.Kafka.Topic = "" }, "kafka.topic"},
		{"dlq is topic", func(c *aggregator.Config) { c.Kafka.DLQTopic = c.Kafka.Topic }, "kafka.dlq_topic"},
		{"short session", func(c *aggregator.Config) { c.Kafka.SessionTimeout = 100 * time.Millisecond }, "kafka.session_timeout"},
		{"long instance id", func(c *aggregator.Config) { c.Kafka.InstanceID = strings.Repeat("a", 250) }, "kafka.instance_id"},
		{"zero batch", func(c *aggregator.Config) { c.Batch.MaxRecords = 0 }, "batch.max_records"},
		{"zero wait", func(c *aggregator.Config) { c.Batch.MaxWait = 0 }, "batch.max_wait"},
		{"no clickhouse", func(c *aggregator.Config) { c.ClickHouse.Addr = nil }, "clickhouse.addr"},
		{"bad database", func(c *aggregator.Config) { c.ClickHouse.Database = "a-b" }, "clickhouse.database"},
		{"bad attempts", func(c *aggregator.Config) { c.ClickHouse.MaxAttempts = 0 }, "clickhouse.max_attempts"},
	}
	if err := aggregator.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := aggregator.DefaultConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.key)
			}
			if !errors.Is(err, consume.ErrConfig) && !strings.HasPrefix(tt.key, "clickhouse") {
				t.Errorf("error %v does not wrap consume.ErrConfig", err)
			}
		})
	}
}
