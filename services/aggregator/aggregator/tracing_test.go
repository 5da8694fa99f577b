package aggregator_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestTraceFromFetchToInsert ingests a chainsim window into the real broker
// and consumes it into the real ClickHouse with one in-memory span recorder
// behind both services, then follows the trace: every consumed record's
// span is the child of the producer span of that same record (same trace,
// parent = the producer span, as carried by its traceparent header); every
// producer span is the child of the fetch span of the range the record came
// from; getLogs, decode and price run under the fetch spans; and the batch
// insert spans link to exactly the consumed records' spans. A poison record
// carrying a trace context keeps it on the dead-letter topic.
func TestTraceFromFetchToInsert(t *testing.T) {
	brokers := testsupport.KafkaBrokers(t)
	chAddr := testsupport.ClickHouseAddr(t)
	t.Setenv(telemetry.EnvLinkCountLimit, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))

	// Ingest two weeks of Polygon from chainsim.
	s, err := sim.New(sim.Config{Seed: testsupport.Seed(t), Scale: 0.05, Chains: []uint64{137}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	icfg := ingest.DefaultConfig()
	icfg.Chain = "polygon"
	icfg.RPCURL = secret.URL(base + "/polygon")
	icfg.From, icfg.To = "2026-01-05", "2026-01-19"
	icfg.Kafka.Brokers = brokers
	icfg.Kafka.TopicPrefix = testsupport.UniqueName("trace_test") + "."
	icfg.Kafka.Replication = 1
	icfg.Concurrency = 4
	icfg.LogRange = 50_000 // several ranges, so records have different fetch spans
	in, err := ingest.New(icfg, quietLog(), nil, ingest.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Run(ctx); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	prog := in.Progress()
	if !prog.Done || prog.EventsPublished < 20 {
		t.Fatalf("ingest progress %+v: want a finished window with at least 20 events", prog)
	}
	liqTopic := icfg.Kafka.TopicPrefix + topics.Liquidations

	// A poison record with a trace context of its own.
	pctx, poisonParent := tp.Tracer("test").Start(ctx, "poison-producer")
	poison := &kgo.Record{Topic: liqTopic, Key: []byte("poison"), Value: []byte{0xff, 0xff, 0x01},
		Headers: []kgo.RecordHeader{{Key: topics.HeaderSchema, Value: []byte(topics.SchemaLiquidationEvent)}}}
	telemetry.InjectRecord(pctx, poison)
	poisonParent.End()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, poison).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// Consume it all into ClickHouse, in batches of at most 25 records
	// (under the 128-link cap, so every record is linked).
	db, conn := testsupport.ClickHouseDB(t)
	if _, err := migrate.Run(ctx, conn, db, quietLog()); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	cfg := aggregator.DefaultConfig()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Group = testsupport.UniqueName("trace_test_group")
	cfg.Kafka.Topic = liqTopic
	cfg.Kafka.DLQTopic = icfg.Kafka.TopicPrefix + topics.LiquidationsDLQ
	cfg.Batch.MaxRecords = 25
	cfg.Batch.MaxWait = 100 * time.Millisecond
	cfg.ClickHouse.Addr = []string{chAddr}
	cfg.ClickHouse.Database = db
	cfg.MetricsAddr = ""
	agg, err := aggregator.New(cfg, quietLog(), noop.NewMeterProvider().Meter("test"), aggregator.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- agg.Run(actx) }()
	want := prog.EventsPublished + 1
	testsupport.Eventually(t, 60*time.Second, 50*time.Millisecond, func() bool { return agg.Stats().RecordsConsumed >= want },
		"aggregator consumed %d records, want %d", agg.Stats().RecordsConsumed, want)
	acancel()
	if err := <-done; err != nil {
		t.Fatalf("aggregator: %v", err)
	}
	st := agg.Stats()
	if st.DLQRecords != 1 || st.RowsWritten != prog.EventsPublished {
		t.Fatalf("aggregator stats %+v, want %d rows and 1 dead letter", st, prog.EventsPublished)
	}

	// Index the recorded spans.
	type pos struct {
		part int64
		off  int64
	}
	byName := map[string][]sdktrace.ReadOnlySpan{}
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range sr.Ended() {
		byName[sp.Name()] = append(byName[sp.Name()], sp)
		byID[sp.SpanContext().SpanID()] = sp
	}
	childOf := func(sp sdktrace.ReadOnlySpan, parentName string) sdktrace.ReadOnlySpan {
		t.Helper()
		p, ok := byID[sp.Parent().SpanID()]
		if !ok || p.Name() != parentName || p.SpanContext().TraceID() != sp.SpanContext().TraceID() {
			t.Fatalf("%s span %s (attributes %v) has parent %v, want a %s span of its trace", sp.Name(), sp.SpanContext().SpanID(), sp.Attributes(), sp.Parent(), parentName)
		}
		return p
	}
	fetches := byName[ingest.SpanFetchRange]
	if len(fetches) < 2 {
		t.Fatalf("%d %s spans, want one per range (at least 2)", len(fetches), ingest.SpanFetchRange)
	}
	for _, f := range fetches {
		a := attrs(f)
		if a["liqstream.chain"].AsString() != "polygon" || a["liqstream.block.from"].AsInt64() > a["liqstream.block.to"].AsInt64() || f.Parent().IsValid() {
			t.Fatalf("fetch span attributes %v, parent %v", f.Attributes(), f.Parent())
		}
	}
	for _, name := range []string{rpc.SpanGetLogs, ingest.SpanDecode, ingest.SpanPrice} {
		if len(byName[name]) == 0 {
			t.Fatalf("no %s span recorded", name)
		}
		for _, sp := range byName[name] {
			f := childOf(sp, ingest.SpanFetchRange)
			if name == rpc.SpanGetLogs {
				a, fa := attrs(sp), attrs(f)
				if a["liqstream.block.from"] != fa["liqstream.block.from"] || a["liqstream.block.to"] != fa["liqstream.block.to"] {
					t.Fatalf("getLogs span range %v differs from its fetch span's %v", sp.Attributes(), f.Attributes())
				}
			}
		}
	}

	// Producer spans of the records on the liquidations topic, by position.
	producers := map[pos]sdktrace.ReadOnlySpan{}
	for _, sp := range byName[publish.SpanProduce] {
		a := attrs(sp)
		if a["messaging.destination.name"].AsString() != liqTopic || sp.Status().Code == codes.Error {
			continue
		}
		part, _ := strconv.ParseInt(a["messaging.destination.partition.id"].AsString(), 10, 64)
		producers[pos{part, a["messaging.kafka.offset"].AsInt64()}] = sp
		childOf(sp, ingest.SpanFetchRange)
	}
	if uint64(len(producers)) != prog.EventsPublished {
		t.Fatalf("%d producer spans on %s, want one per published event (%d)", len(producers), liqTopic, prog.EventsPublished)
	}

	// Each consumed record's span is the child of that record's producer span.
	type spanKey struct {
		trace trace.TraceID
		span  trace.SpanID
	}
	keyOf := func(sc trace.SpanContext) spanKey { return spanKey{sc.TraceID(), sc.SpanID()} }
	stored := map[spanKey]bool{}
	var poisonSpan sdktrace.ReadOnlySpan
	for _, sp := range byName[consume.SpanConsume] {
		a := attrs(sp)
		if sp.SpanKind() != trace.SpanKindConsumer || a["messaging.destination.name"].AsString() != liqTopic {
			t.Fatalf("consumer span kind %v attributes %v", sp.SpanKind(), sp.Attributes())
		}
		if sp.Parent().SpanID() == poisonParent.SpanContext().SpanID() {
			poisonSpan = sp
			continue
		}
		part, _ := strconv.ParseInt(a["messaging.destination.partition.id"].AsString(), 10, 64)
		at := pos{part, a["messaging.kafka.offset"].AsInt64()}
		p, ok := producers[at]
		if !ok {
			t.Fatalf("consumed record at %v has no producer span", at)
		}
		if !sp.Parent().IsRemote() || sp.Parent().SpanID() != p.SpanContext().SpanID() || sp.Parent().TraceID() != p.SpanContext().TraceID() ||
			sp.SpanContext().TraceID() != p.SpanContext().TraceID() {
			t.Fatalf("consumer span of the record at %v has parent %v (trace %s), want its producer span %v",
				at, sp.Parent(), sp.SpanContext().TraceID(), p.SpanContext())
		}
		if sp.Status().Code == codes.Error {
			t.Fatalf("consumer span of a stored record has status %v", sp.Status())
		}
		stored[keyOf(sp.SpanContext())] = true
	}
	if uint64(len(stored)) != prog.EventsPublished {
		t.Fatalf("%d consumer spans of stored records, want %d", len(stored), prog.EventsPublished)
	}

	// The batch inserts link to exactly the stored records' consumer spans.
	linked := map[spanKey]bool{}
	inserts := byName[store.SpanInsert]
	for _, sp := range inserts {
		a := attrs(sp)
		if int(a["liqstream.links"].AsInt64()) != len(sp.Links()) || int(a["liqstream.records"].AsInt64()) != len(sp.Links()) ||
			len(sp.Links()) > cfg.Batch.MaxRecords || sp.Status().Code == codes.Error {
			t.Fatalf("insert span %v with %d links, status %v", sp.Attributes(), len(sp.Links()), sp.Status())
		}
		for _, l := range sp.Links() {
			k := keyOf(l.SpanContext)
			if !stored[k] || linked[k] {
				t.Fatalf("insert span links %v: not a stored record's consumer span, or linked twice", l.SpanContext)
			}
			linked[k] = true
		}
	}
	if len(inserts) < 2 || len(linked) != len(stored) {
		t.Fatalf("%d insert spans link %d consumer spans, want at least 2 inserts linking all %d", len(inserts), len(linked), len(stored))
	}

	// The poison record: its consumer span continues its trace and fails;
	// its dead letter keeps its traceparent.
	if poisonSpan == nil || poisonSpan.Status().Code != codes.Error || poisonSpan.SpanContext().TraceID() != poisonParent.SpanContext().TraceID() {
		t.Fatalf("poison record's consumer span %v, want an error child of the poison producer", poisonSpan)
	}
	dl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(cfg.Kafka.DLQTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	var got *kgo.Record
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	for got == nil && dctx.Err() == nil {
		dl.PollFetches(dctx).EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "poison" {
				got = r
			}
		})
	}
	if got == nil {
		t.Fatal("the poison record never reached the dead-letter topic")
	}
	if h := header(got, topics.HeaderTraceParent); h == "" || h != header(poison, topics.HeaderTraceParent) {
		t.Fatalf("dead letter traceparent %q, want the original record's %q", h, header(poison, topics.HeaderTraceParent))
	}
	t.Logf("%d events: %d fetch spans, %d producer spans, %d consumer spans, %d insert spans", prog.EventsPublished,
		len(fetches), len(producers), len(stored)+1, len(inserts))
}

func attrs(sp sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range sp.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
