package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// withContentLength makes f answer with a Content-Length header instead of
// a chunked body, so that the client can refuse an answer before reading it.
func withContentLength(f *fakeNode) {
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		f.serve(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// paddedAnswer is a valid empty eth_getLogs answer of about n bytes
// (JSON whitespace inside the array).
func paddedAnswer(n int) string {
	return `{"jsonrpc":"2.0","id":1,"result":[` + strings.Repeat(" ", n) + `]}`
}

// checkCoverage fails unless logs has exactly one log every logEvery blocks
// of [from, to], in order.
func checkCoverage(t *testing.T, f *fakeNode, logs []uint64, from, to uint64) {
	t.Helper()
	want := from + (f.logEvery-from%f.logEvery)%f.logEvery
	for i, b := range logs {
		if b != want {
			t.Fatalf("log %d at block %d, want %d (missing, repeated or out of order)", i, b, want)
		}
		want += f.logEvery
	}
	if want <= to {
		t.Fatalf("logs end before block %d of %d", want, to)
	}
}

// TestResponseTooLargeSplitsLogRange: an eth_getLogs answer over
// rpc_max_response_bytes halves the range like a provider's refusal, every
// block is still covered once, and each rejection is counted in
// rpc_responses_rejected and as range_limited in rpc_requests, whether the
// answer announces its length or streams.
func TestResponseTooLargeSplitsLogRange(t *testing.T) {
	for _, announce := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", announce), func(t *testing.T) {
			f := newFakeNode(t, "")
			f.logEvery = 10 // about 380 bytes of JSON per 10 blocks
			if announce {
				withContentLength(f)
			}
			m, mp := newMetrics()
			cfg := testConfig(f.url("/"))
			cfg.MaxResponseBytes = 16 << 10 // about 430 blocks' logs
			cfg.LogRangeGrowAfter = 3
			c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
			logs, err := c.Logs(context.Background(), 1000, 4999, pool, nil)
			if err != nil {
				t.Fatal(err)
			}
			blocks := make([]uint64, len(logs))
			for i, l := range logs {
				blocks[i] = l.BlockNumber
			}
			checkCoverage(t, f, blocks, 1000, 4999)
			asked := f.askedRanges()
			if asked[0] != [2]uint64{1000, 4999} || asked[1] != [2]uint64{1000, 2999} {
				t.Fatalf("first ranges %v, want the whole range then its half", asked[:2])
			}
			refused := refusedRanges(asked)
			host := strings.TrimPrefix(f.srv.URL, "http://")
			rej := m.counts(t, "rpc_responses_rejected")
			if got := rej["endpoint="+host+",method=eth_getLogs,reason=too_large"]; got != int64(refused) || refused < 4 {
				t.Fatalf("rpc_responses_rejected = %v, want %d too_large (asked %v)", rej, refused, asked)
			}
			if got := m.counts(t, "rpc_requests")["endpoint="+host+",method=eth_getLogs,outcome=range_limited"]; got != int64(refused) {
				t.Fatalf("rpc_requests range_limited = %d, want %d: %v", got, refused, m.counts(t, "rpc_requests"))
			}
			t.Logf("%d eth_getLogs for 4000 blocks, %d refused as too large", len(asked), refused)
		})
	}
}

// TestResponseTooLargeSingleBlockFails: when even one block's answer is over
// the limit, Logs fails at once (each range asked once: 4, 2, 1 blocks) with
// an error naming the method, the redacted endpoint, the limit and the key
// to raise, never the endpoint's key.
func TestResponseTooLargeSingleBlockFails(t *testing.T) {
	for _, announce := range []bool{true, false} {
		t.Run(fmt.Sprintf("content-length=%v", announce), func(t *testing.T) {
			f := newFakeNode(t, "")
			if announce {
				withContentLength(f)
			}
			f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
				if method != "eth_getLogs" {
					return false
				}
				_, _ = w.Write([]byte(paddedAnswer(8 << 10)))
				return true
			})
			m, mp := newMetrics()
			cfg := testConfig(f.url("/v3/SECRETKEY?apikey=SECRETKEY"))
			cfg.MaxResponseBytes = 4 << 10
			c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
			_, err := c.Logs(context.Background(), 1000, 1003, pool, nil)
			if !errors.Is(err, ErrRangeExhausted) || !errors.Is(err, ErrResponseLimit) || IsRetryable(err) {
				t.Fatalf("err = %v", err)
			}
			var le *LimitError
			if !errors.As(err, &le) || le.Key != KeyMaxResponseBytes || le.Max != 4<<10 || le.Method != "eth_getLogs" {
				t.Fatalf("err = %#v", le)
			}
			if announce != (le.Got > 4<<10) {
				t.Fatalf("Got = %d: the announced length should be refused before reading, a stream cut at the limit", le.Got)
			}
			text := err.Error()
			for _, want := range []string{"block 1000", "eth_getLogs", "rpc_max_response_bytes (4096 bytes): even a single block is over it: raise rpc_max_response_bytes",
				strings.TrimPrefix(f.srv.URL, "http://")} {
				if !strings.Contains(text, want) {
					t.Fatalf("error %q does not say %q", text, want)
				}
			}
			if strings.Contains(text, "SECRETKEY") {
				t.Fatalf("error leaks the key: %s", text)
			}
			if n := f.count("eth_getLogs"); n != 3 {
				t.Fatalf("%d eth_getLogs, want 3 (4, 2, 1 blocks)", n)
			}
			if got := m.counts(t, "rpc_responses_rejected"); len(got) != 1 || sum(got) != 3 {
				t.Fatalf("rpc_responses_rejected = %v", got)
			}
		})
	}
}

// refusedRanges counts the refused ranges of asked: those followed by a
// range that starts at the same block.
func refusedRanges(asked [][2]uint64) int {
	n := 0
	for i := 0; i+1 < len(asked); i++ {
		if asked[i+1][0] == asked[i][0] {
			n++
		}
	}
	return n
}

func sum(m map[string]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// TestResponseTooLargeOtherMethods: a too large answer to another method is
// a bad response, retried (on another endpoint when there is one), and the
// final error says which limit to raise.
func TestResponseTooLargeOtherMethods(t *testing.T) {
	f := newFakeNode(t, "")
	m, mp := newMetrics()
	cfg := testConfig(f.url("/"))
	cfg.MaxResponseBytes = 4 << 10
	cfg.MaxAttempts = 2
	c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
	f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if method != "eth_getBlockByNumber" {
			return false
		}
		_, _ = w.Write([]byte(`[{"jsonrpc":"2.0","id":1,"result":null}` + strings.Repeat(" ", 8<<10) + `]`))
		return true
	})
	_, err := c.HeadersBatch(context.Background(), []uint64{10, 11})
	if !errors.Is(err, ErrResponseLimit) || !errors.Is(err, ErrBadResponse) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "raise rpc_max_response_bytes") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Fatalf("error %q", err)
	}
	host := strings.TrimPrefix(f.srv.URL, "http://")
	if got := m.counts(t, "rpc_responses_rejected")["endpoint="+host+",method=eth_getBlockByNumber,reason=too_large"]; got != 2 {
		t.Fatalf("rpc_responses_rejected too_large = %d, want 2", got)
	}
}

// TestTooManyLogsSplitsRange: more logs than rpc_max_logs_per_response in
// one answer halve the range; every block is covered once.
func TestTooManyLogsSplitsRange(t *testing.T) {
	f := newFakeNode(t, "")
	m, mp := newMetrics()
	cfg := testConfig(f.url("/"))
	cfg.MaxLogsPerResponse = 7
	c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
	logs, err := c.Logs(context.Background(), 1, 5000, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocks := make([]uint64, len(logs))
	for i, l := range logs {
		blocks[i] = l.BlockNumber
	}
	checkCoverage(t, f, blocks, 1, 5000)
	refused := refusedRanges(f.askedRanges())
	got := m.counts(t, "rpc_responses_rejected")
	if host := strings.TrimPrefix(f.srv.URL, "http://"); refused == 0 || got["endpoint="+host+",method=eth_getLogs,reason=too_many_logs"] != int64(refused) {
		t.Fatalf("rpc_responses_rejected = %v, want %d too_many_logs", got, refused)
	}

	// One block over the limit: a clear, final error.
	f2 := newFakeNode(t, "")
	f2.logEvery = 1
	cfg = testConfig(f2.url("/"))
	cfg.MaxLogsPerResponse = 1
	f2.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if method != "eth_getLogs" {
			return false
		}
		l := `{"address":"0x0000000000000000000000000000000000000001","topics":[],"data":"0x","blockNumber":"0x3e8","transactionHash":"0x0000000000000000000000000000000000000000000000000000000000000001","transactionIndex":"0x0","blockHash":"0x0000000000000000000000000000000000000000000000000000000000000001","logIndex":"0x0","removed":false}`
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":[` + l + `,` + l + `]}`))
		return true
	})
	c2 := mustNew(t, cfg, nil, nil, nil)
	_, err = c2.Logs(context.Background(), 1000, 1000, pool, nil)
	if !errors.Is(err, ErrRangeExhausted) || !strings.Contains(err.Error(), "has 2 logs, over rpc_max_logs_per_response (1 logs)") ||
		!strings.Contains(err.Error(), "raise rpc_max_logs_per_response") {
		t.Fatalf("err = %v", err)
	}
}

// TestBatchAnswerMismatch: a batch answer with more items than requests, an
// id not requested, an id twice or a request unanswered is refused with
// ErrBatchMismatch, retried, and counted as batch_mismatch.
func TestBatchAnswerMismatch(t *testing.T) {
	hdr := func(id, n int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{"number":"0x%x","hash":"0x%064x","parentHash":"0x%064x","timestamp":"0x1"}}`, id, n, n+1, n)
	}
	tests := []struct {
		name, answer, want string
	}{
		{"more items", "[" + hdr(1, 10) + "," + hdr(2, 11) + "," + hdr(2, 11) + "]", "3 answers to a batch of 2 requests"},
		{"unrequested id", "[" + hdr(1, 10) + "," + hdr(7, 11) + "]", "answer with id 7, which was not requested (ids 1..2)"},
		{"duplicate id", "[" + hdr(1, 10) + "," + hdr(1, 10) + "]", "two answers with id 1"},
		{"missing", "[" + hdr(2, 11) + "]", "no answer for request 1 of 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t, "")
			m, mp := newMetrics()
			cfg := testConfig(f.url("/"))
			cfg.MaxAttempts = 2
			c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
			f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
				if method != "eth_getBlockByNumber" {
					return false
				}
				_, _ = w.Write([]byte(tc.answer))
				return true
			})
			_, err := c.HeadersBatch(context.Background(), []uint64{10, 11})
			if !errors.Is(err, ErrBatchMismatch) || !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			host := strings.TrimPrefix(f.srv.URL, "http://")
			if got := m.counts(t, "rpc_responses_rejected")["endpoint="+host+",method=eth_getBlockByNumber,reason=batch_mismatch"]; got != 2 {
				t.Fatalf("rpc_responses_rejected batch_mismatch = %d, want 2", got)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name string
		l    Limits
		want string // "" valid
	}{
		{"zero takes defaults", Limits{}, ""},
		{"explicit", Limits{MaxResponseBytes: 1 << 10, MaxLogsPerResponse: 1}, ""},
		{"negative bytes", Limits{MaxResponseBytes: -1}, KeyMaxResponseBytes},
		{"tiny bytes", Limits{MaxResponseBytes: 100}, KeyMaxResponseBytes},
		{"huge bytes", Limits{MaxResponseBytes: 5 << 30}, KeyMaxResponseBytes},
		{"negative logs", Limits{MaxLogsPerResponse: -5}, KeyMaxLogsPerResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Policy{Limits: tc.l}.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	d := Policy{}.WithDefaults()
	if d.MaxResponseBytes != DefaultMaxResponseBytes || d.MaxLogsPerResponse != DefaultMaxLogsPerResponse || DefaultPolicy().Limits != DefaultLimits() {
		t.Fatalf("defaults not applied: %+v", d.Limits)
	}
}

// TestLimitErrorText: the error names the method, the redacted endpoint,
// the limit and its key, and says what to do.
func TestLimitErrorText(t *testing.T) {
	e := &LimitError{Key: KeyMaxResponseBytes, Method: "eth_call", Endpoint: secret.URL("https://rpc.example/v2/SECRETKEY").String(), Max: 10, Got: 20}
	want := "answer to eth_call from https://rpc.example/<redacted> has 20 bytes, over rpc_max_response_bytes (10 bytes): " +
		"check the endpoint, or raise rpc_max_response_bytes if such answers are expected"
	if e.Error() != want {
		t.Fatalf("got  %q\nwant %q", e.Error(), want)
	}
}
