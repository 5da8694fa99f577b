package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func TestNewTracingFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		exporter string // "" = error
		errHas   string
	}{
		{"nothing set: off", nil, "none", ""},
		{"endpoint alone: otlp over http", map[string]string{EnvOTLPEndpoint: "http://127.0.0.1:4318"}, "otlp/http", ""},
		{"traces endpoint alone", map[string]string{EnvOTLPTracesEndpoint: "http://127.0.0.1:4318/v1/traces"}, "otlp/http", ""},
		{"grpc protocol", map[string]string{EnvOTLPEndpoint: "http://127.0.0.1:4317", EnvOTLPProtocol: "grpc"}, "otlp/grpc", ""},
		{"traces protocol wins", map[string]string{EnvOTLPEndpoint: "http://127.0.0.1:4317", EnvOTLPProtocol: "http/protobuf", EnvOTLPTracesProtocol: "grpc"}, "otlp/grpc", ""},
		{"console", map[string]string{EnvTracesExporter: "console"}, "console", ""},
		{"explicit none beats endpoint", map[string]string{EnvTracesExporter: "none", EnvOTLPEndpoint: "http://127.0.0.1:4318"}, "none", ""},
		{"sdk disabled", map[string]string{EnvSDKDisabled: "true", EnvTracesExporter: "console"}, "none", ""},
		{"unknown exporter", map[string]string{EnvTracesExporter: "zipkin"}, "", EnvTracesExporter},
		{"unknown protocol", map[string]string{EnvOTLPEndpoint: "http://127.0.0.1:4318", EnvOTLPProtocol: "http/json"}, "", "http/protobuf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := newTracing(context.Background(), "test", func(k string) string { return tc.env[k] }, io.Discard)
			if tc.exporter == "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("newTracing = %v, want an error naming %s", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			if tr.Exporter() != tc.exporter || tr.Enabled() != (tc.exporter != "none") {
				t.Fatalf("exporter %q enabled %v, want %q", tr.Exporter(), tr.Enabled(), tc.exporter)
			}
			if got := Recording(tr.Provider()); got != tr.Enabled() {
				t.Fatalf("Recording(provider) = %v with tracing enabled %v", got, tr.Enabled())
			}
		})
	}
}

func TestConsoleExporterWritesSpans(t *testing.T) {
	var buf testsupport.SyncBuffer
	tr, err := newTracing(context.Background(), "ingest", func(k string) string {
		return map[string]string{EnvTracesExporter: "console"}[k]
	}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider().Tracer("t").Start(context.Background(), "console-span")
	span.End()
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, `"console-span"`) || !strings.Contains(out, "liqstream-ingest") {
		t.Fatalf("console output lacks the span or the service name:\n%s", out)
	}
}

// TestTelemetryExportsSpansOverOTLPHTTP: with OTEL_EXPORTER_OTLP_ENDPOINT set,
// telemetry.New installs an OTLP/HTTP pipeline that stages built without a
// provider use, and Shutdown delivers the spans to the collector.
func TestTelemetryExportsSpansOverOTLPHTTP(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []*collectortrace.ExportTraceServiceRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		reqs = append(reqs, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	t.Setenv(EnvOTLPEndpoint, srv.URL)
	t.Setenv(EnvTracesExporter, "")
	t.Setenv(EnvOTLPProtocol, "")
	t.Setenv(EnvSDKDisabled, "")

	tel, err := New("aggregator")
	if err != nil {
		t.Fatal(err)
	}
	if !Recording(tel.TracerProvider()) {
		t.Fatal("TracerProvider is a no-op with an OTLP endpoint set")
	}
	tracer, recording := Tracer(nil, "liqstream/test")
	if !recording {
		t.Fatal("Tracer(nil) does not use the installed provider")
	}
	_, span := tracer.Start(context.Background(), "exported-span")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if Recording(ProviderOrDefault(nil)) {
		t.Error("the provider stays installed after Shutdown")
	}
	mu.Lock()
	defer mu.Unlock()
	var names, services []string
	for _, req := range reqs {
		for _, rs := range req.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					services = append(services, a.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
	}
	if len(names) != 1 || names[0] != "exported-span" || len(services) == 0 || services[0] != "liqstream-aggregator" {
		t.Fatalf("collector received spans %v from services %v, want [exported-span] from liqstream-aggregator", names, services)
	}
}

func TestTelemetryWithoutEnvironmentTracesNothing(t *testing.T) {
	for _, k := range []string{EnvOTLPEndpoint, EnvOTLPTracesEndpoint, EnvTracesExporter, EnvSDKDisabled} {
		t.Setenv(k, "")
	}
	tel, err := New("ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if Recording(tel.TracerProvider()) || Recording(ProviderOrDefault(nil)) {
		t.Fatal("tracing is on without any OTEL_* variable")
	}
	_, span := tel.TracerProvider().Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatal("a span of the default provider records")
	}
}

func TestInjectExtractRecord(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	ctx, span := tp.Tracer("t").Start(context.Background(), "producer")
	span.End()
	sc := span.SpanContext()

	shared := []kgo.RecordHeader{{Key: "liqstream-schema", Value: []byte("s")}, {Key: "content-type", Value: []byte("c")}}
	r := &kgo.Record{Headers: shared}
	InjectRecord(ctx, r)
	if len(shared) != 2 || shared[0].Key != "liqstream-schema" {
		t.Fatalf("the shared header slice was modified: %v", shared)
	}
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := headerValue(r, "traceparent"); got != want {
		t.Fatalf("traceparent = %q, want %q (headers %v)", got, want, r.Headers)
	}
	if len(r.Headers) != 3 || headerValue(r, "liqstream-schema") != "s" {
		t.Fatalf("headers %v, want the two originals and traceparent", r.Headers)
	}

	// Extract on the consumer side yields the producer span as remote parent.
	got := trace.SpanContextFromContext(ExtractRecord(context.Background(), r))
	if !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() {
		t.Fatalf("extracted %v, want remote %v", got, sc)
	}

	// Injecting again (a dead letter re-produced under another span)
	// replaces the header instead of adding a second one.
	ctx2, span2 := tp.Tracer("t").Start(context.Background(), "other")
	span2.End()
	InjectRecord(ctx2, r)
	n := 0
	for _, h := range r.Headers {
		if h.Key == "traceparent" {
			n++
		}
	}
	if n != 1 || !strings.Contains(headerValue(r, "traceparent"), span2.SpanContext().SpanID().String()) {
		t.Fatalf("after a second inject headers are %v", r.Headers)
	}

	// No span in ctx: nothing is added; no header: nothing is extracted.
	bare := &kgo.Record{Headers: shared}
	InjectRecord(context.Background(), bare)
	if len(bare.Headers) != 2 {
		t.Fatalf("inject without a span added headers: %v", bare.Headers)
	}
	if trace.SpanContextFromContext(ExtractRecord(context.Background(), bare)).IsValid() {
		t.Fatal("extracted a span context from a record without traceparent")
	}
	malformed := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-zz-yy-01")}}}
	if trace.SpanContextFromContext(ExtractRecord(context.Background(), malformed)).IsValid() {
		t.Fatal("extracted a span context from a malformed traceparent")
	}
}

func TestMaxLinks(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want int
	}{{"", DefaultMaxLinks}, {"16", 16}, {"0", DefaultMaxLinks}, {"-3", DefaultMaxLinks}, {"many", DefaultMaxLinks}} {
		t.Setenv(EnvLinkCountLimit, tc.env)
		if got := MaxLinks(); got != tc.want {
			t.Errorf("MaxLinks with %s=%q = %d, want %d", EnvLinkCountLimit, tc.env, got, tc.want)
		}
	}
}

func headerValue(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// BenchmarkRecordSpan is the per-record cost of tracing on the publish path:
// a producer span and its traceparent header (on), against the check that
// skips both (off, the default).
func BenchmarkRecordSpan(b *testing.B) {
	shared := []kgo.RecordHeader{{Key: "liqstream-schema", Value: []byte("s")}, {Key: "content-type", Value: []byte("c")}}
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", nil}, {"on", sdktrace.NewTracerProvider()}} {
		b.Run(tc.name, func(b *testing.B) {
			tracer, recording := Tracer(tc.tp, "bench")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r := &kgo.Record{Headers: shared}
				if recording {
					sctx, span := tracer.Start(ctx, "kafka.produce", trace.WithSpanKind(trace.SpanKindProducer))
					InjectRecord(sctx, r)
					span.End()
				}
			}
		})
	}
}
