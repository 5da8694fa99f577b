package alerter

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// TestWebhookHugeAnswerIsNotRead: a webhook that accepts an alert and then
// streams a 256 MiB body is not read past maxResponseBytes: the alert counts
// as sent at once and the receiver's writes fail once the socket buffers
// are full.
func TestWebhookHugeAnswerIsNotRead(t *testing.T) {
	const huge = 256 << 20
	var written atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for written.Load() < huge {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	a, err := New(testConfig([]string{"127.0.0.1:1"}, "t", "g", secret.URL(srv.URL+"/alerts?token="+token)), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := liq(t, event(1, 3, "500000.00000000"))
	began := time.Now()
	if err := a.Handle(context.Background(), r.headers(), r.value); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver kept writing: the body was read on")
	}
	// Loopback socket buffers hold a few MiB; reading the whole body would
	// have taken all 256.
	if w := written.Load(); w >= huge || took > 5*time.Second {
		t.Fatalf("receiver wrote %d bytes, Handle took %s: the answer was read past %d bytes", w, took, maxResponseBytes)
	}
	t.Logf("receiver wrote %d KiB before the alerter closed the connection; Handle took %s", written.Load()>>10, took.Round(time.Millisecond))
}
