package consume

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// SpanConsume is the span of each consumed record: a consumer span, a child
// of the producer span whose W3C trace context the record's headers carry
// (a root span when they carry none). It covers decoding the record into
// the open batch; the batch's store.SpanInsert links to it.
const SpanConsume = "kafka.consume"

// Option configures New.
type Option func(*Consumer)

// WithTracerProvider traces every consumed record with tp (default:
// telemetry.ProviderOrDefault(nil), no-op unless tracing is on).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Consumer) {
		c.tr.tracer, c.tr.traced = telemetry.Tracer(tp, "liqstream/aggregator/consume")
		c.tr.maxLinks = telemetry.MaxLinks()
	}
}

// tracing is the Consumer's tracer; traced is false for a no-op provider.
type tracing struct {
	tracer   trace.Tracer
	traced   bool
	maxLinks int
}

// linkSet collects the consumer spans of one batch's records, up to max;
// total counts them all.
type linkSet struct {
	spans []trace.SpanContext
	total int
}

func (l *linkSet) add(sc trace.SpanContext, max int) {
	l.total++
	if len(l.spans) < max {
		l.spans = append(l.spans, sc)
	}
}

// merge adds o's spans and count (a batch put back in front of the next
// after a failed insert: each was bounded by add, so the sum holds at most
// twice the bound).
func (l *linkSet) merge(o linkSet) {
	l.total += o.total
	l.spans = append(l.spans, o.spans...)
}

// context returns ctx carrying the set for the batch's insert span.
func (l *linkSet) context(ctx context.Context) context.Context {
	return store.ContextWithLinks(ctx, l.spans, l.total)
}

// batchLinks are the open batch's consumer spans: the raw rows' and the
// bad-debt records', each linked from its own insert.
type batchLinks struct{ rows, deficits linkSet }

// addTraced is add with a SpanConsume span around it when tracing: the
// span's parent is extracted from r's headers, and its context joins the
// links of the batch the record went into. A dead-lettered record's span
// ends with an error status naming the reason; its dead letter keeps r's
// headers, trace context included.
func (c *Consumer) addTraced(p *pending, r *kgo.Record) {
	if !c.tr.traced {
		c.add(p, r)
		return
	}
	ctx := telemetry.ExtractRecord(context.Background(), r)
	_, span := c.tr.tracer.Start(ctx, SpanConsume, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.name", "process"),
		attribute.String("messaging.destination.name", r.Topic),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(r.Partition))),
		attribute.Int64("messaging.kafka.offset", r.Offset),
		attribute.String("messaging.consumer.group.name", c.cfg.Kafka.Group),
	))
	rows, deficits, poison := len(p.rows), len(p.deficits), len(p.poison)
	c.add(p, r)
	switch {
	case len(p.rows) > rows:
		p.links.rows.add(span.SpanContext(), c.tr.maxLinks)
	case len(p.deficits) > deficits:
		p.links.deficits.add(span.SpanContext(), c.tr.maxLinks)
	case len(p.poison) > poison:
		reason := header(p.poison[len(p.poison)-1], topics.HeaderDLQReason)
		span.SetAttributes(attribute.String("liqstream.dlq_reason", reason))
		span.SetStatus(codes.Error, "dead-lettered: "+reason)
	}
	span.End()
}
