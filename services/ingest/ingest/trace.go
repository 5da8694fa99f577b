package ingest

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// Span names of the ingest loop (deploy/README.md, "Tracing"). The rpc
// client adds rpc.SpanGetLogs under SpanFetchRange and the publisher
// publish.SpanProduce per record, a child of its range's SpanFetchRange.
const (
	SpanFetchRange = "ingest.fetch_range"
	SpanDecode     = "ingest.decode"
	SpanPrice      = "ingest.price"
)

// Option configures New.
type Option func(*tracing)

// WithTracerProvider traces the ingest loop, its rpc client and its
// publisher with tp (default: telemetry.ProviderOrDefault(nil), no-op
// unless tracing is on).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(t *tracing) { t.tp = tp }
}

// tracing is the Ingester's tracer and the provider it hands to the rpc
// client and the publisher.
type tracing struct {
	tp     trace.TracerProvider
	tracer trace.Tracer
}

func newTracing(opts []Option) tracing {
	var t tracing
	for _, o := range opts {
		o(&t)
	}
	t.tp = telemetry.ProviderOrDefault(t.tp)
	t.tracer = t.tp.Tracer("liqstream/ingest")
	return t
}

// fetchSpan is the span context of a chunk's fetch, the parent of the
// producer spans of the chunk's records.
type fetchSpan struct{ sc trace.SpanContext }

// context returns ctx with the chunk's fetch span as the current span, so
// records published under it become its children; ctx itself when the fetch
// was not traced.
func (c *chunk) context(ctx context.Context) context.Context {
	if !c.span.sc.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, c.span.sc)
}

// traceFetch starts the span of fetching chunk c (SpanFetchRange), whose
// children are the getLogs, decode and price spans. The returned func ends
// it with the chunk's outcome; call it when the fetch returns.
func (in *Ingester) traceFetch(ctx context.Context, c *chunk) (context.Context, func()) {
	ctx, span := in.tr.tracer.Start(ctx, SpanFetchRange, trace.WithAttributes(
		attribute.String("liqstream.chain", in.r.chain.Slug),
		attribute.Int64("liqstream.chain_id", int64(in.r.chain.ID)),
		attribute.Int64("liqstream.block.from", int64(c.lo)),
		attribute.Int64("liqstream.block.to", int64(c.hi)),
	))
	c.span = fetchSpan{span.SpanContext()}
	return ctx, func() {
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("liqstream.events", len(c.events)), attribute.Int("liqstream.deficits", len(c.deficits)),
				attribute.Int("liqstream.dead_letters", len(c.letters)))
		}
		telemetry.EndSpan(span, c.err)
	}
}

// startStep starts a child span of the fetch (SpanDecode, SpanPrice).
func (in *Ingester) startStep(ctx context.Context, name string) (context.Context, trace.Span) {
	return in.tr.tracer.Start(ctx, name)
}

// endDecode ends the decode span with the number of logs read and decoded.
func endDecode(span trace.Span, logs, decoded int) {
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("liqstream.logs", logs), attribute.Int("liqstream.decoded", decoded))
	}
	span.End()
}
