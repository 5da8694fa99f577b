package publish

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// TestPublishedRecordsCarryTheirProducerSpan: with tracing, every record
// (events and dead letters) gets a producer span that is a child of the
// span in the fill's context, and its traceparent header names exactly that
// producer span; without tracing no header is added.
func TestPublishedRecordsCarryTheirProducerSpan(t *testing.T) {
	brokerCases(t, func(t *testing.T, brokers []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sr := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
		cfg := Config{Conn: kafkaconn.Conn{Brokers: brokers}, TopicPrefix: testsupport.UniqueName("publish_trace") + ".", Replication: 1, TransactionTimeout: 20 * time.Second}
		const chain = 137
		p, err := New(cfg, nil, chain, WithTracerProvider(tp))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if err := p.EnsureTopics(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.LastCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		parentCtx, parent := tp.Tracer("test").Start(ctx, "fetch")
		evs := events(chain, 0, 6)
		if err := p.Transact(ctx, Checkpoint{Block: 10, Hash: "0x0a"}, func(tctx context.Context) error {
			tctx = trace.ContextWithSpanContext(tctx, trace.SpanContextFromContext(parentCtx))
			if err := fillWith(p, evs)(tctx); err != nil {
				return err
			}
			p.DeadLetter(tctx, []byte("dl-key"), []byte(`{"bad":true}`), "undecodable: test", "application/json")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		parent.End()

		producers := map[trace.SpanID]sdktrace.ReadOnlySpan{}
		for _, s := range sr.Ended() {
			if s.Name() == SpanProduce {
				producers[s.SpanContext().SpanID()] = s
			}
		}
		if len(producers) != len(evs)+1 {
			t.Fatalf("%d producer spans, want %d (one per record)", len(producers), len(evs)+1)
		}
		check := func(r *kgo.Record, what string) sdktrace.ReadOnlySpan {
			t.Helper()
			sc := trace.SpanContextFromContext(telemetry.ExtractRecord(context.Background(), r))
			if !sc.IsValid() {
				t.Fatalf("%s at %s/%d/%d has no valid traceparent: %v", what, r.Topic, r.Partition, r.Offset, r.Headers)
			}
			s, ok := producers[sc.SpanID()]
			if !ok || s.SpanContext().TraceID() != sc.TraceID() {
				t.Fatalf("%s: traceparent %s/%s names no recorded producer span", what, sc.TraceID(), sc.SpanID())
			}
			if s.SpanKind() != trace.SpanKindProducer || s.Parent().SpanID() != parent.SpanContext().SpanID() ||
				s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
				t.Fatalf("%s: producer span kind %v parent %v, want a producer child of %v", what, s.SpanKind(), s.Parent(), parent.SpanContext())
			}
			attrs := attrMap(s.Attributes())
			if attrs["messaging.destination.name"].AsString() != r.Topic ||
				attrs["messaging.kafka.offset"].AsInt64() != r.Offset ||
				attrs["messaging.destination.partition.id"].Emit() != itoa(r.Partition) {
				t.Fatalf("%s: producer span attributes %v do not name %s/%d/%d", what, attrs, r.Topic, r.Partition, r.Offset)
			}
			return s
		}
		recs := testsupport.ReadTopic(t, brokers, p.Topics().Liquidations)
		if len(recs) != len(evs) {
			t.Fatalf("read %d records, want %d", len(recs), len(evs))
		}
		seen := map[trace.SpanID]bool{}
		for _, r := range recs {
			var ev liqstreamv1.LiquidationEvent
			if err := proto.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			s := check(r, "event "+ev.EventId)
			if got := attrMap(s.Attributes())["liqstream.event_id"].AsString(); got != ev.EventId {
				t.Fatalf("record of %s has the producer span of %s", ev.EventId, got)
			}
			if headerOf(r, topics.HeaderSchema) != topics.SchemaLiquidationEvent {
				t.Fatalf("schema header lost: %v", r.Headers)
			}
			seen[s.SpanContext().SpanID()] = true
		}
		if len(seen) != len(evs) {
			t.Fatalf("%d distinct producer spans for %d records", len(seen), len(evs))
		}
		dl := testsupport.ReadTopic(t, brokers, p.Topics().DLQ)
		if len(dl) != 1 {
			t.Fatalf("read %d dead letters, want 1", len(dl))
		}
		check(dl[0], "dead letter")
		if headerOf(dl[0], topics.HeaderDLQReason) != "undecodable: test" {
			t.Fatalf("dead letter headers %v", dl[0].Headers)
		}

		// Without tracing: the shared headers, nothing else.
		cfg.TopicPrefix = testsupport.UniqueName("publish_notrace") + "."
		q, err := New(cfg, nil, chain)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := q.EnsureTopics(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := q.LastCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := q.Transact(ctx, Checkpoint{Block: 1}, fillWith(q, events(chain, 0, 2))); err != nil {
			t.Fatal(err)
		}
		for _, r := range testsupport.ReadTopic(t, brokers, q.Topics().Liquidations) {
			if len(r.Headers) != 2 || headerOf(r, topics.HeaderTraceParent) != "" {
				t.Fatalf("untraced record has headers %v, want schema and content-type only", r.Headers)
			}
		}
	})
}

func headerOf(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func attrMap(kvs []attribute.KeyValue) map[string]attribute.Value {
	m := make(map[string]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func itoa(p int32) string { return attribute.IntValue(int(p)).Emit() }
