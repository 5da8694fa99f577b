package store

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// SpanInsert is the span of one batch INSERT (raw liquidations or bad
// debt), retries included. It links to the spans of the consumed records
// the batch holds (ContextWithLinks), at most telemetry.MaxLinks of them.
const SpanInsert = "clickhouse.insert"

// Option configures New and NewWithConn.
type Option func(*Store)

// WithTracerProvider traces the batch inserts with tp (default:
// telemetry.ProviderOrDefault(nil), no-op unless tracing is on).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Store) { s.tracer, _ = telemetry.Tracer(tp, "liqstream/aggregator/store") }
}

type linksKey struct{}

type batchLinks struct {
	spans []trace.SpanContext
	total int
}

// ContextWithLinks returns ctx carrying the span contexts of the consumed
// records of the batch about to be written: the batch's insert span links
// to them. total is how many records the batch holds, which may exceed
// len(spans) when the caller capped them (telemetry.MaxLinks).
func ContextWithLinks(ctx context.Context, spans []trace.SpanContext, total int) context.Context {
	if len(spans) == 0 && total == 0 {
		return ctx
	}
	return context.WithValue(ctx, linksKey{}, batchLinks{spans: spans, total: total})
}

// startInsert starts the SpanInsert span of writing rows rows to table, with
// links to the consumed records' spans carried by ctx (ContextWithLinks),
// capped at telemetry.MaxLinks. Its attributes count the rows, the records
// and the links.
func (s *Store) startInsert(ctx context.Context, table string, rows int) (context.Context, trace.Span) {
	bl, _ := ctx.Value(linksKey{}).(batchLinks)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("db.system.name", "clickhouse"),
		attribute.String("db.operation.name", "INSERT"),
		attribute.String("db.collection.name", table),
		attribute.Int("db.operation.batch.size", rows),
	)}
	links := 0
	if len(bl.spans) > 0 {
		spans := bl.spans[:min(len(bl.spans), telemetry.MaxLinks())]
		ls := make([]trace.Link, 0, len(spans))
		for _, sc := range spans {
			if sc.IsValid() {
				ls = append(ls, trace.Link{SpanContext: sc})
			}
		}
		links = len(ls)
		opts = append(opts, trace.WithLinks(ls...))
	}
	opts = append(opts, trace.WithAttributes(
		attribute.Int("liqstream.records", max(bl.total, links)),
		attribute.Int("liqstream.links", links),
	))
	return s.tracer.Start(ctx, SpanInsert, opts...)
}
