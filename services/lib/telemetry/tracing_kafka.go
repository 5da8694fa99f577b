package telemetry

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

// W3C trace-context header names on Kafka records (lib/topics lists them
// with the contract's other headers).
const (
	headerTraceParent = "traceparent"
	headerTraceState  = "tracestate"
)

// recordCarrier adapts a record's headers to propagation.TextMapCarrier.
type recordCarrier struct{ r *kgo.Record }

// Get returns the last header named key ("" when absent).
func (c recordCarrier) Get(key string) string {
	for i := len(c.r.Headers) - 1; i >= 0; i-- {
		if c.r.Headers[i].Key == key {
			return string(c.r.Headers[i].Value)
		}
	}
	return ""
}

// Set appends a header; InjectRecord has removed any earlier one.
func (c recordCarrier) Set(key, value string) {
	c.r.Headers = append(c.r.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

// Keys lists the header names.
func (c recordCarrier) Keys() []string {
	out := make([]string, len(c.r.Headers))
	for i, h := range c.r.Headers {
		out[i] = h.Key
	}
	return out
}

// InjectRecord writes the span context of ctx into r's headers as W3C
// traceparent (and tracestate when not empty), replacing any it had. The
// header slice is copied first, so headers shared between records are never
// modified. Without a valid span context in ctx, r is left as it is.
func InjectRecord(ctx context.Context, r *kgo.Record) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+2)
	for _, h := range r.Headers {
		if h.Key != headerTraceParent && h.Key != headerTraceState {
			hs = append(hs, h)
		}
	}
	r.Headers = hs
	Propagator().Inject(ctx, recordCarrier{r})
}

// ExtractRecord returns ctx with the remote span context of r's traceparent
// and tracestate headers as parent; ctx unchanged when r has none or it is
// malformed.
func ExtractRecord(ctx context.Context, r *kgo.Record) context.Context {
	return Propagator().Extract(ctx, recordCarrier{r})
}
