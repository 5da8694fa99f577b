package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Telemetry owns a service's meter provider and its Prometheus registry.
type Telemetry struct {
	provider *sdkmetric.MeterProvider
	registry *prometheus.Registry
	service  string
	tracing  *Tracing // tracing.go
}

// New builds the metrics pipeline for a service (e.g. "ingest") and its
// trace pipeline (NewTracing: off unless the OTEL_* environment turns it on),
// installed as the process default (Tracing.Install).
func New(service string) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("creating prometheus exporter: %w", err)
	}
	tr, err := NewTracing(context.Background(), service)
	if err != nil {
		return nil, err
	}
	tr.Install()
	return &Telemetry{provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)), registry: reg, service: service, tracing: tr}, nil
}

// Meter returns the service's meter.
func (t *Telemetry) Meter() metric.Meter { return t.provider.Meter("liqstream/" + t.service) }

// Handler serves the metrics in Prometheus text format.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Serve exposes /metrics, /healthz and /readyz (see WithReadiness) on addr
// until ctx is done. An empty addr serves nothing and returns when ctx is
// done.
func (t *Telemetry) Serve(ctx context.Context, addr string, log *slog.Logger, opts ...ServeOption) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for metrics on %s: %w (choose another metrics address)", addr, err)
	}
	return t.ServeListener(ctx, ln, log, opts...)
}

// Mux returns the handler Serve serves: /metrics, /healthz and /readyz.
func (t *Telemetry) Mux(opts ...ServeOption) *http.ServeMux {
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", t.Handler())
	mux.Handle("/healthz", HealthHandler())
	mux.Handle("/readyz", ReadyHandler(o.ready))
	return mux
}

// ServeListener is Serve on an open listener (tests listen on
// 127.0.0.1:0); it closes ln.
func (t *Telemetry) ServeListener(ctx context.Context, ln net.Listener, log *slog.Logger, opts ...ServeOption) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{Handler: t.Mux(opts...), ReadHeaderTimeout: 5 * time.Second}
	base := "http://" + ln.Addr().String()
	log.Info("serving metrics and health", "metrics", base+"/metrics", "healthz", base+"/healthz", "readyz", base+"/readyz")
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving metrics: %w", err)
	}
	return nil
}

// Shutdown flushes and stops the meter and tracer providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.provider.Shutdown(ctx), t.tracing.Shutdown(ctx))
}
