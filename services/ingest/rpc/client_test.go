package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// fakeNode answers eth_chainId with chainID and eth_blockNumber with 0x10,
// after failing the first `fail` requests with status code `code`.
func fakeNode(t testing.TB, chainID string, fail int32, code int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fail {
			http.Error(w, "slow down", code)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		_ = json.Unmarshal(body, &req)
		result := `"0x10"`
		if req.Method == "eth_chainId" {
			result = `"` + chainID + `"`
		}
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":` + result + `}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestChainMismatchIsClearAndRedacted(t *testing.T) {
	srv, _ := fakeNode(t, "0x89", 0, 0)
	url := secret.URL(srv.URL + "/v3/SECRETKEY?apikey=SECRETKEY")
	_, err := New(context.Background(), Config{URL: url, ChainID: 1, Chain: "ethereum"}, nil, nil)
	if !errors.Is(err, ErrChainMismatch) {
		t.Fatalf("err = %v", err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Chain != "ethereum" || re.Method != "eth_chainId" {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), "SECRETKEY") || !strings.Contains(err.Error(), "137") {
		t.Fatalf("error text %q leaks the key or hides the chain id", err)
	}
}

func TestRetriesOn429ThenSucceeds(t *testing.T) {
	srv, n := fakeNode(t, "0x1", 2, http.StatusTooManyRequests)
	c, err := New(context.Background(), Config{URL: secret.URL(srv.URL), ChainID: 1, BaseBackoff: time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if h, err := c.Head(context.Background()); err != nil || h != 16 {
		t.Fatalf("Head = %d, %v", h, err)
	}
	if n.Load() != 4 {
		t.Fatalf("%d requests, want 2 failures + chainId + blockNumber", n.Load())
	}
}

func TestGivesUpAfterMaxAttemptsRedacted(t *testing.T) {
	srv, n := fakeNode(t, "0x1", 1000, http.StatusBadGateway)
	// Loopback URLs keep their path when redacted (lib/secret); a key in the
	// query is always hidden.
	url := secret.URL(srv.URL + "/v2?apikey=SECRETKEY")
	_, err := New(context.Background(), Config{URL: url, ChainID: 1, MaxAttempts: 3, BaseBackoff: time.Millisecond}, nil, nil)
	if err == nil || n.Load() != 3 || !IsRetryable(err) {
		t.Fatalf("err = %v after %d requests", err, n.Load())
	}
	if strings.Contains(err.Error(), "SECRETKEY") {
		t.Fatalf("error leaks the key: %v", err)
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"mismatch", ErrChainMismatch, false},
		{"deadline", context.DeadlineExceeded, true},
		{"eof", errors.New("unexpected EOF"), true},
		{"other", errors.New("execution reverted"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsRetryable(tc.err); got != tc.want {
				t.Fatalf("IsRetryable(%v) = %v", tc.err, got)
			}
		})
	}
}
