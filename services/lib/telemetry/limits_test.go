package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// countingReader is an endless request body that counts what was read of it.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n.Load() >= 1<<30 {
		return 0, io.EOF
	}
	for i := range p {
		p[i] = 'x'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestEndpointsDoNotReadBodies: /metrics, /healthz and /readyz answer a
// request carrying an endless body without reading it: the client gets its
// answer and sends only what the socket buffers hold.
func TestEndpointsDoNotReadBodies(t *testing.T) {
	tel, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = tel.ServeListener(ctx, ln, slog.New(slog.DiscardHandler)) }()
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			body := &countingReader{}
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			req, err := http.NewRequestWithContext(rctx, http.MethodPost, "http://"+ln.Addr().String()+path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			// Loopback socket buffers hold a few MiB.
			if n := body.n.Load(); n > 64<<20 {
				t.Fatalf("%d bytes of the body were sent: the server reads request bodies", n)
			}
		})
	}
}
