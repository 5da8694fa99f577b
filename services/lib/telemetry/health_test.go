package telemetry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestReadyHandler(t *testing.T) {
	tests := []struct {
		name     string
		check    Readiness
		wantCode int
		wantBody string
	}{
		{"no check is ready", nil, 200, "ready\n"},
		{"check passes", func(context.Context) error { return nil }, 200, "ready\n"},
		{"check fails with reason", func(context.Context) error { return errors.New("head lag 300 blocks > 128") }, 503,
			"not ready: head lag 300 blocks > 128\n"},
		{"multi-line reason on one line", func(context.Context) error { return errors.New("a\n  b") }, 503, "not ready: a b\n"},
		{"panic is a reason", func(context.Context) error { panic("boom") }, 503, "not ready: readiness check panicked: boom\n"},
		{"all ready", AllReady(func(context.Context) error { return nil }, nil), 200, "ready\n"},
		{"all: reasons joined", AllReady(
			func(context.Context) error { return errors.New("kafka unreachable") },
			func(context.Context) error { return nil },
			func(context.Context) error { return errors.New("consumer lag 20000 records > 10000") }), 503,
			"not ready: kafka unreachable; consumer lag 20000 records > 10000\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, ReadyHandler(tt.check), "/readyz")
			if code != tt.wantCode || body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestReadyHandlerBoundsASlowCheck(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := func(ctx context.Context) error {
		select {
		case <-release:
		case <-time.After(time.Minute):
		}
		return nil
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	ctx, cancel := context.WithTimeout(req.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	ReadyHandler(slow).ServeHTTP(rec, req.WithContext(ctx))
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("slow check held the request for %s", el)
	}
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "did not answer") {
		t.Fatalf("got %d %q, want 503 naming the timeout", rec.Code, rec.Body.String())
	}
}

func TestHealthHandler(t *testing.T) {
	code, body := get(t, HealthHandler(), "/healthz")
	if code != 200 || body != "ok\n" {
		t.Fatalf("got %d %q, want 200 ok", code, body)
	}
}

// TestServeListener serves the three endpoints on a real socket and stops
// when the context ends.
func TestServeListener(t *testing.T) {
	tel, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := errors.New("catching up")
	done := make(chan error, 1)
	go func() {
		done <- tel.ServeListener(ctx, ln, slog.New(slog.DiscardHandler), WithReadiness(func(context.Context) error { return ready }))
	}()
	base := "http://" + ln.Addr().String()
	fetch := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := fetch("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := fetch("/readyz"); code != 503 || body != "not ready: catching up\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, body := fetch("/metrics"); code != 200 || !strings.Contains(body, "target_info") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeListener: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeListener did not return after the context ended")
	}
}

func TestServeBadAddress(t *testing.T) {
	tel, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	err = tel.Serve(context.Background(), "127.0.0.1:notaport", nil)
	if err == nil || !strings.Contains(err.Error(), "choose another metrics address") {
		t.Fatalf("got %v, want an error saying what to do", err)
	}
}
