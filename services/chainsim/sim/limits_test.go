package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/chainsim/sim"
)

// TestRequestBodyLimit: a body over max_request_bytes, announced or
// streamed, is answered 413 with a JSON-RPC error saying what to do, logged
// and counted; a body of exactly the limit is served.
func TestRequestBodyLimit(t *testing.T) {
	const limit = 4096
	s := newSim(t, sim.Config{Seed: 1, Scale: 0.05, Chains: []uint64{arbitrumID}, MaxRequestBytes: limit})
	var logs bytes.Buffer
	s.SetLogger(slog.New(slog.NewJSONHandler(&logs, nil)))
	url := serve(t, s) + "/arbitrum"
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`
	padded := func(n int) string { return call[:len(call)-1] + strings.Repeat(" ", n-len(call)) + "}" }

	tests := []struct {
		name     string
		body     string
		chunked  bool
		status   int
		contains string
	}{
		{"at the limit", padded(limit), false, http.StatusOK, `"result":"0xa4b1"`},
		{"over, announced", padded(limit + 1), false, http.StatusRequestEntityTooLarge, "over 4096 bytes (chainsim max_request_bytes): send smaller JSON-RPC batches"},
		{"over, streamed", padded(3 * limit), true, http.StatusRequestEntityTooLarge, "over 4096 bytes"},
	}
	refused := uint64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			resp, err := http.Post(url, "application/json", body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.contains) {
				t.Fatalf("status %d body %s; want %d containing %q", resp.StatusCode, b, tt.status, tt.contains)
			}
			if tt.status != http.StatusOK {
				refused++
				var answer struct {
					ID    json.RawMessage `json:"id"`
					Error struct {
						Code int `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(b, &answer); err != nil || answer.Error.Code != -32600 || string(answer.ID) != "null" {
					t.Fatalf("answer %s is not a JSON-RPC invalid-request error (%v)", b, err)
				}
			}
			if got := s.ServerStats().OversizedRequests; got != refused {
				t.Fatalf("OversizedRequests = %d, want %d", got, refused)
			}
		})
	}
	if n := strings.Count(logs.String(), "body too large"); n != 2 || !strings.Contains(logs.String(), `"max_request_bytes":4096`) {
		t.Fatalf("%d refusals logged, want 2:\n%s", n, logs.String())
	}
}

func TestMaxRequestBytesValidated(t *testing.T) {
	_, err := sim.New(sim.Config{Scale: 0.05, Chains: []uint64{arbitrumID}, MaxRequestBytes: -1})
	if !errors.Is(err, sim.ErrConfig) || !strings.Contains(err.Error(), "max_request_bytes") {
		t.Fatalf("err = %v", err)
	}
}
