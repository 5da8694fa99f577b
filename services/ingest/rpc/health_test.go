package rpc

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestHealthFollowsTheLastAttempt: healthy after answers (a refusal or a
// revert is an answer), unhealthy after endpoint faults, with a reason that
// names the method, host and outcome but never the URL's path or key, and
// healthy again after the next answer.
func TestHealthFollowsTheLastAttempt(t *testing.T) {
	f := newFakeNode(t, "")
	cfg := testConfig(f.url("/v3/secretkey123"))
	cfg.MaxAttempts = 2
	c := mustNew(t, cfg, nil, nil, nil)
	if err := c.Health(); err != nil {
		t.Fatalf("after New's successful requests: %v", err)
	}
	var failing atomic.Bool
	f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if failing.Load() {
			http.Error(w, "unavailable", 503)
			return true
		}
		return false
	})
	failing.Store(true)
	if _, err := c.Head(context.Background()); err == nil {
		t.Fatal("Head succeeded against a failing node")
	}
	err := c.Health()
	host := strings.TrimPrefix(f.srv.URL, "http://")
	if err == nil {
		t.Fatal("healthy after failed attempts")
	}
	for _, want := range []string{"last 2 RPC attempt(s) on polygon failed", "eth_blockNumber to " + host, "server_error", "rpc_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secretkey123") {
		t.Errorf("reason %q reveals the URL path", err)
	}
	failing.Store(false)
	if _, err := c.Head(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Health(); err != nil {
		t.Fatalf("after a successful attempt: %v", err)
	}
	// An application error (method not found) is an answer, not a fault.
	if _, err := c.do(context.Background(), &call{method: "eth_nope", reqs: []request{{Method: "eth_nope"}}, check: func(rs []response) error {
		if rs[0].Err != nil {
			return rs[0].Err
		}
		return nil
	}}); err == nil {
		t.Fatal("eth_nope succeeded")
	}
	if err := c.Health(); err != nil {
		t.Fatalf("after a JSON-RPC application error: %v", err)
	}
}

// TestRequestDurationIsRecorded: one histogram point per attempt with the
// request counter's labels.
func TestRequestDurationIsRecorded(t *testing.T) {
	f := newFakeNode(t, "")
	m, mp := newMetrics()
	c := mustNew(t, testConfig(f.url("/")), nil, &metricProvider{mp}, nil)
	if _, err := c.Logs(context.Background(), 1000, 1999, pool, nil); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := m.r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(f.srv.URL, "http://")
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			if mm.Name != "rpc_request_duration" {
				continue
			}
			if mm.Unit != "s" {
				t.Errorf("unit %q, want s", mm.Unit)
			}
			for _, dp := range mm.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := dp.Attributes.Value("method")
				ep, _ := dp.Attributes.Value("endpoint")
				outcome, _ := dp.Attributes.Value("outcome")
				if method.AsString() == "eth_getLogs" && ep.AsString() == host && outcome.AsString() == "ok" {
					found = dp.Count == 1 && dp.Sum >= 0 && dp.Sum < 2
				}
			}
		}
	}
	if !found {
		t.Fatalf("no rpc_request_duration point for one eth_getLogs to %s: %+v", host, rm)
	}
}
