package store

import (
	"context"
	"encoding/binary"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// TestInsertSpanLinksAreCapped: the insert span links to the consumed
// records' spans up to the link limit (OTEL_SPAN_LINK_COUNT_LIMIT, default
// 128) and counts the records and links in attributes.
func TestInsertSpanLinksAreCapped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   string
		records int
		want    int
	}{
		{"under the default cap", "", 40, 40},
		{"over the default cap", "", 300, telemetry.DefaultMaxLinks},
		{"configured cap", "7", 20, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(telemetry.EnvLinkCountLimit, tc.limit)
			sr := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
			s := &Store{}
			WithTracerProvider(tp)(s)
			scs := make([]trace.SpanContext, tc.records)
			for i := range scs {
				var tid trace.TraceID
				var sid trace.SpanID
				binary.BigEndian.PutUint64(tid[8:], uint64(i+1))
				binary.BigEndian.PutUint64(sid[:], uint64(i+1))
				scs[i] = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: false})
			}
			_, span := s.startInsert(ContextWithLinks(context.Background(), scs, tc.records), "liquidations", tc.records)
			span.End()
			ended := sr.Ended()
			if len(ended) != 1 || ended[0].Name() != SpanInsert {
				t.Fatalf("recorded %d spans, want one %s", len(ended), SpanInsert)
			}
			got := ended[0]
			if len(got.Links()) != tc.want || got.DroppedLinks() != 0 {
				t.Fatalf("%d links (%d dropped by the SDK), want %d", len(got.Links()), got.DroppedLinks(), tc.want)
			}
			for i, l := range got.Links() {
				if l.SpanContext.SpanID() != scs[i].SpanID() {
					t.Fatalf("link %d is %v, want %v", i, l.SpanContext.SpanID(), scs[i].SpanID())
				}
			}
			attrs := map[attribute.Key]attribute.Value{}
			for _, kv := range got.Attributes() {
				attrs[kv.Key] = kv.Value
			}
			if attrs["liqstream.records"].AsInt64() != int64(tc.records) || attrs["liqstream.links"].AsInt64() != int64(tc.want) ||
				attrs["db.collection.name"].AsString() != "liquidations" || attrs["db.operation.batch.size"].AsInt64() != int64(tc.records) {
				t.Fatalf("attributes %v", got.Attributes())
			}
		})
	}
}
