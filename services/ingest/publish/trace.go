package publish

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// SpanProduce is the name of the producer span of each published record.
const SpanProduce = "kafka.produce"

// Option configures New.
type Option func(*Publisher)

// WithTracerProvider makes the publisher trace every record it produces
// with tp (default: telemetry.ProviderOrDefault(nil), no-op unless tracing
// is on).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(p *Publisher) { p.tracer, p.traced = telemetry.Tracer(tp, "liqstream/ingest/publish") }
}

// produce produces r into the current transaction. When tracing, r gets a
// producer span, a child of the span in ctx (the range's fetch span), that
// ends when the brokers acknowledge the record or the transaction drops it;
// its W3C trace context goes into r's headers (traceparent, tracestate).
// Without tracing it is a bare Produce: no span, no header copy.
func (p *Publisher) produce(ctx context.Context, r *kgo.Record, schema, eventID string) {
	if !p.traced {
		p.cl.Produce(ctx, r, p.promise)
		return
	}
	ctx, span := p.tracer.Start(ctx, SpanProduce, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.name", "send"),
		attribute.String("messaging.destination.name", r.Topic),
		attribute.String("messaging.kafka.message.key", string(r.Key)),
		attribute.String("liqstream.schema", schema),
		attribute.String("liqstream.event_id", eventID),
		attribute.Int64("liqstream.chain_id", int64(p.chainID)),
	))
	telemetry.InjectRecord(ctx, r)
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err == nil {
			span.SetAttributes(attribute.String("messaging.destination.partition.id", strconv.Itoa(int(r.Partition))),
				attribute.Int64("messaging.kafka.offset", r.Offset))
		}
		telemetry.EndSpan(span, err)
		p.promise(r, err)
	})
}
