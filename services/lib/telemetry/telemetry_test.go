package telemetry

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestCounterIsExported(t *testing.T) {
	tel, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tel.Meter().Int64Counter("events_published", metric.WithDescription("events"))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3, metric.WithAttributes(attribute.String("chain", "polygon")))
	srv := httptest.NewServer(tel.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `events_published_total{chain="polygon"`) || !strings.Contains(string(b), "} 3") {
		t.Fatalf("metric missing from output:\n%s", b)
	}
}
