package telemetry

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Environment variables of the trace pipeline. They are OpenTelemetry's
// standard ones; the SDK and the OTLP exporters read the others they
// document (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_*,
// OTEL_SPAN_*_LIMIT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, ...).
const (
	// EnvTracesExporter selects the exporter: "otlp", "console" (JSON spans
	// on standard error, for debugging) or "none". Unset: "otlp" when an
	// OTLP endpoint is set, else "none" (tracing off).
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	// EnvOTLPEndpoint (or EnvOTLPTracesEndpoint) is the collector's
	// address; setting it alone turns tracing on.
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	// EnvOTLPProtocol (or EnvOTLPTracesProtocol) is "http/protobuf"
	// (default, port 4318) or "grpc" (port 4317).
	EnvOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvOTLPTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	// EnvSDKDisabled set to "true" turns tracing off whatever else is set.
	EnvSDKDisabled = "OTEL_SDK_DISABLED"
	// EnvLinkCountLimit caps the links of one span (MaxLinks).
	EnvLinkCountLimit = "OTEL_SPAN_LINK_COUNT_LIMIT"
)

// DefaultMaxLinks is OpenTelemetry's default cap on the links of one span.
const DefaultMaxLinks = 128

// Tracing is a service's trace pipeline: an SDK TracerProvider with a batch
// exporter when tracing is on, a no-op provider when it is off (the
// default). Build it with NewTracing (Telemetry.New does) and Shutdown it
// to flush the last spans.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when off
	exporter string
}

// NewTracing builds the trace pipeline of service (e.g. "ingest") from the
// standard OTEL_* environment variables: see EnvTracesExporter and the
// package documentation. Spans carry service.name "liqstream-<service>"
// unless OTEL_SERVICE_NAME says otherwise. Nothing is dialled yet.
func NewTracing(ctx context.Context, service string) (*Tracing, error) {
	return newTracing(ctx, service, os.Getenv, os.Stderr)
}

func newTracing(ctx context.Context, service string, getenv func(string) string, console io.Writer) (*Tracing, error) {
	off := &Tracing{provider: noop.NewTracerProvider(), exporter: "none"}
	if b, _ := strconv.ParseBool(strings.TrimSpace(getenv(EnvSDKDisabled))); b {
		return off, nil
	}
	kind := strings.ToLower(strings.TrimSpace(getenv(EnvTracesExporter)))
	if kind == "" {
		kind = "none"
		if getenv(EnvOTLPEndpoint) != "" || getenv(EnvOTLPTracesEndpoint) != "" {
			kind = "otlp"
		}
	}
	var (
		exp  sdktrace.SpanExporter
		name string
		err  error
	)
	switch kind {
	case "none":
		return off, nil
	case "console":
		name = "console"
		exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
	case "otlp":
		proto := strings.ToLower(strings.TrimSpace(cmpEnv(getenv(EnvOTLPTracesProtocol), getenv(EnvOTLPProtocol))))
		switch proto {
		case "", "http/protobuf":
			name = "otlp/http"
			exp, err = otlptracehttp.New(ctx)
		case "grpc":
			name = "otlp/grpc"
			exp, err = otlptracegrpc.New(ctx)
		default:
			return nil, fmt.Errorf("%s=%q: unsupported OTLP protocol; use http/protobuf (collector port 4318) or grpc (port 4317)", EnvOTLPProtocol, proto)
		}
	default:
		return nil, fmt.Errorf("%s=%q: unsupported trace exporter; use otlp (with %s), console or none", EnvTracesExporter, kind, EnvOTLPEndpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the %s trace exporter: %w (check the %s variables)", name, err, "OTEL_EXPORTER_OTLP_*")
	}
	// The service name first, so OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES (read by WithFromEnv) override it.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "liqstream-"+service)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && res == nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("building the trace resource: %w (check OTEL_RESOURCE_ATTRIBUTES)", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, sdk: tp, exporter: name}, nil
}

func cmpEnv(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Provider returns the tracer provider: a no-op one when tracing is off.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Exporter names the exporter: "none", "console", "otlp/http" or
// "otlp/grpc".
func (t *Tracing) Exporter() string { return t.exporter }

// installed is the provider of the last Install, read by Provider(nil).
var installed atomic.Pointer[Tracing]

// Install makes t the process's default tracer provider when it is enabled:
// components built without an explicit provider (ProviderOrDefault(nil))
// use it, and so does OpenTelemetry's global (otel.GetTracerProvider),
// with the W3C trace-context propagator. A disabled t installs nothing.
func (t *Tracing) Install() {
	if !t.Enabled() {
		return
	}
	installed.Store(t)
	otel.SetTracerProvider(t.provider)
	otel.SetTextMapPropagator(Propagator())
}

// Shutdown exports the spans still buffered and stops the exporter. A nil
// or disabled t does nothing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	installed.CompareAndSwap(t, nil)
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flushing spans to the %s exporter: %w", t.exporter, err)
	}
	return nil
}

// TracerProvider returns the service's tracer provider (no-op when tracing
// is off), to hand to the stages' WithTracerProvider options.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t.tracing == nil {
		return noop.NewTracerProvider()
	}
	return t.tracing.Provider()
}

// ProviderOrDefault returns tp, or when tp is nil the provider installed by
// Install (Telemetry.New installs it when tracing is on), or a no-op one.
func ProviderOrDefault(tp trace.TracerProvider) trace.TracerProvider {
	if tp != nil {
		return tp
	}
	if t := installed.Load(); t != nil {
		return t.provider
	}
	return noop.NewTracerProvider()
}

// Recording reports whether tp may record spans: false for the no-op
// provider, so hot paths skip building spans and headers altogether.
func Recording(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return false
	}
	return true
}

// Tracer returns ProviderOrDefault(tp)'s tracer of the named liqstream
// component ("liqstream/ingest/publish") and whether it records.
func Tracer(tp trace.TracerProvider, component string) (trace.Tracer, bool) {
	tp = ProviderOrDefault(tp)
	return tp.Tracer(component), Recording(tp)
}

// Propagator is the W3C trace-context propagator (traceparent and
// tracestate), the only one liqstream uses on Kafka records.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// MaxLinks is the most links one span carries: OTEL_SPAN_LINK_COUNT_LIMIT
// when it is a positive integer, else DefaultMaxLinks. The SDK drops links
// past the same limit; callers cap first so they do not collect them.
func MaxLinks() int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(EnvLinkCountLimit))); err == nil && n > 0 {
		return n
	}
	return DefaultMaxLinks
}

// EndSpan sets span's status from err (recording it) and ends it.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
