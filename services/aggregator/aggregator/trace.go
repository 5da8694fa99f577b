package aggregator

import (
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// Option configures New.
type Option func(*options)

type options struct{ tp trace.TracerProvider }

// WithTracerProvider traces the consumer (consume.SpanConsume per record)
// and the store (store.SpanInsert per batch) with tp (default:
// telemetry.ProviderOrDefault(nil), no-op unless tracing is on).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.tp = telemetry.ProviderOrDefault(o.tp)
	return o
}
