package rpc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/lib/secret"
)

func testConfig(urls ...secret.URL) Config {
	return Config{URLs: urls, ChainID: 137, Chain: "polygon", MaxLogRange: 5000, Seed: 1,
		Policy: Policy{BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, RequestTimeout: 2 * time.Second}}
}

func mustNew(t testing.TB, cfg Config, log *slog.Logger, mp *metricProvider, now func() time.Time) *Client {
	t.Helper()
	var meter = mp.meter()
	c, err := newClient(context.Background(), cfg, log, meter, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

var pool = []common.Address{common.BigToAddress(common.Big1)}

func TestChainMismatchIsClearAndRedacted(t *testing.T) {
	f := newFakeNode(t, "")
	f.chainID = 1
	_, err := New(context.Background(), testConfig(f.url("/v3/SECRETKEY?apikey=SECRETKEY")), nil, nil)
	if !errors.Is(err, ErrChainMismatch) {
		t.Fatalf("err = %v", err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Chain != "polygon" || re.Method != "eth_chainId" {
		t.Fatalf("err = %#v", err)
	}
	if strings.Contains(err.Error(), "SECRETKEY") || !strings.Contains(err.Error(), "chain id 1,") {
		t.Fatalf("error text %q leaks the key or hides the chain id", err)
	}
}

// TestTransientFaultsAreRetried: every kind of transient failure on the
// first eth_getLogs attempt is retried and counted under its outcome.
func TestTransientFaultsAreRetried(t *testing.T) {
	tests := []struct {
		name    string
		fault   func(w http.ResponseWriter)
		outcome string
	}{
		{"429", func(w http.ResponseWriter) { http.Error(w, "slow down", 429) }, "throttled"},
		{"503", func(w http.ResponseWriter) { http.Error(w, "unavailable", 503) }, "server_error"},
		{"json-rpc rate limit", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"daily request count exceeded, request rate limited"}}`))
		}, "throttled"},
		{"timeout", func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond) }, "timeout"},
		{"broken connection", func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		}, "transport"},
		{"truncated json", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":[{"address":`)) }, "bad_response"},
		{"wrong type", func(w http.ResponseWriter) { _, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1234"}`)) }, "bad_response"},
		{"absurd block", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":[{"address":"0x0000000000000000000000000000000000000001","topics":[],"data":"0x","blockNumber":"0xffffff","transactionHash":"0x0000000000000000000000000000000000000000000000000000000000000001","transactionIndex":"0x0","blockHash":"0x0000000000000000000000000000000000000000000000000000000000000001","logIndex":"0x0","removed":false}]}`))
		}, "bad_response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t, "")
			m, mp := newMetrics()
			cfg := testConfig(f.url("/"))
			cfg.RequestTimeout = 100 * time.Millisecond
			c := mustNew(t, cfg, nil, &metricProvider{mp}, nil)
			var done atomic.Bool
			f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
				if method == "eth_getLogs" && done.CompareAndSwap(false, true) {
					tc.fault(w)
					return true
				}
				return false
			})
			logs, err := c.Logs(context.Background(), 1000, 1999, pool, nil)
			if err != nil || len(logs) != 10 {
				t.Fatalf("Logs = %d logs, %v", len(logs), err)
			}
			got := m.counts(t, "rpc_requests")
			host := strings.TrimPrefix(f.srv.URL, "http://")
			if got["endpoint="+host+",method=eth_getLogs,outcome="+tc.outcome] != 1 || got["endpoint="+host+",method=eth_getLogs,outcome=ok"] != 1 {
				t.Fatalf("rpc_requests = %v", got)
			}
		})
	}
}

func TestGivesUpAfterMaxAttemptsNamingChainAndRange(t *testing.T) {
	f := newFakeNode(t, "")
	cfg := testConfig(f.url("/"))
	cfg.MaxAttempts = 3
	c := mustNew(t, cfg, nil, nil, nil)
	f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if method == "eth_getLogs" {
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":[{"addr`))
			return true
		}
		return false
	})
	_, err := c.Logs(context.Background(), 10, 20, pool, nil)
	if !errors.Is(err, ErrBadResponse) || !IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"polygon", "blocks 10..20", "after 3 attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	if n := f.count("eth_getLogs"); n != 3 {
		t.Fatalf("%d eth_getLogs requests, want 3", n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{"0.5", 500 * time.Millisecond},
		{"-1", 0},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tc := range tests {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestRetryAfterHonoured: a 429 with Retry-After (seconds or HTTP-date)
// makes the next attempt wait at least that long.
func TestRetryAfterHonoured(t *testing.T) {
	for _, form := range []string{"seconds", "date"} {
		t.Run(form, func(t *testing.T) {
			f := newFakeNode(t, "")
			cfg := testConfig(f.url("/"))
			cfg.MaxBackoff = 10 * time.Second
			c := mustNew(t, cfg, nil, nil, nil)
			var mu sync.Mutex
			var slept []time.Duration
			c.sleep = func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				slept = append(slept, d)
				mu.Unlock()
				return nil
			}
			var once sync.Once
			f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
				hit := false
				once.Do(func() {
					hit = true
					if form == "seconds" {
						w.Header().Set("Retry-After", "4")
					} else {
						w.Header().Set("Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat))
					}
					http.Error(w, "Too Many Requests", 429)
				})
				return hit
			})
			if _, err := c.HeadersBatch(context.Background(), []uint64{5, 6}); err != nil {
				t.Fatal(err)
			}
			var longest time.Duration
			for _, d := range slept {
				longest = max(longest, d)
			}
			if longest < 3*time.Second || longest > 6*time.Second {
				t.Fatalf("waits %v: Retry-After not honoured", slept)
			}
		})
	}
}

func TestBackoffIsSeededJitteredAndCapped(t *testing.T) {
	mk := func(seed int64) *Client {
		cfg := Config{Seed: seed, Policy: Policy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}.withDefaults()
		c := &Client{cfg: cfg}
		c.rng = newRand(seed)
		return c
	}
	a, b := mk(7), mk(7)
	for n := 1; n <= 8; n++ {
		da, db := a.backoff(n), b.backoff(n)
		if da != db {
			t.Fatalf("same seed, backoff(%d) %s != %s", n, da, db)
		}
		full := min(100*time.Millisecond<<(n-1), time.Second)
		if da < full/2 || da > full {
			t.Fatalf("backoff(%d) = %s outside [%s, %s]", n, da, full/2, full)
		}
	}
}

func TestTokenBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newTokenBucket(10) // 10/s, burst 10
	for i := range 10 {
		if w := b.reserve(t0); w != 0 {
			t.Fatalf("request %d of the burst waits %s", i, w)
		}
	}
	if w := b.reserve(t0); w != 100*time.Millisecond {
		t.Fatalf("11th request waits %s, want 100ms", w)
	}
	if w := b.reserve(t0); w != 200*time.Millisecond {
		t.Fatalf("12th request waits %s, want 200ms (queued)", w)
	}
	if w := b.reserve(t0.Add(time.Second)); w != 0 {
		t.Fatalf("after a second, waits %s", w)
	}
	if newTokenBucket(0).reserve(t0) != 0 {
		t.Fatal("rate 0 must not limit")
	}
}

// TestRateLimitPacesRequests: rate_limit 20/s paces 30 requests over about
// half a second beyond the burst of 20.
func TestRateLimitPacesRequests(t *testing.T) {
	f := newFakeNode(t, "")
	cfg := testConfig(f.url("/"))
	cfg.RateLimit = 20
	c := mustNew(t, cfg, nil, nil, nil)
	start := time.Now()
	for i := range 30 {
		if _, err := c.HeadersBatch(context.Background(), []uint64{uint64(100 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	// New used 2 tokens; 32 requests at 20/s with burst 20 need >= 0.55 s.
	if el := time.Since(start); el < 500*time.Millisecond || el > 3*time.Second {
		t.Fatalf("30 requests at 20/s took %s", el)
	}
}

// TestFailoverAndDemotionByFailures: the first endpoint fails every call;
// requests fail over to the second at once, the first is demoted after
// F of its last W calls and tried again after rpc_demote_for.
func TestFailoverAndDemotionByFailures(t *testing.T) {
	bad, good := newFakeNode(t, ""), newFakeNode(t, "")
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := testConfig(bad.url("/"), good.url("/"))
	cfg.FailThreshold, cfg.FailWindow, cfg.DemoteFor = 3, 5, time.Minute
	cfg.HeadProbeInterval = time.Hour
	m, mp := newMetrics()
	c := mustNew(t, cfg, nil, &metricProvider{mp}, clk.now)
	c.sleep = func(context.Context, time.Duration) error { return nil }
	bad.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		http.Error(w, "bad gateway", 502)
		return true
	})
	for i := range 20 {
		clk.advance(time.Second) // past the endpoint's backoff
		if _, err := c.HeadersBatch(context.Background(), []uint64{uint64(10 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := bad.count("eth_getBlockByNumber"); n != 3 {
		t.Fatalf("failing endpoint got %d header calls, want 3 (then demoted)", n)
	}
	if good.count("eth_getBlockByNumber") != 20 {
		t.Fatalf("healthy endpoint got %d header calls, want 20", good.count("eth_getBlockByNumber"))
	}
	if d := m.counts(t, "rpc_endpoint_demotions"); d["endpoint="+strings.TrimPrefix(bad.srv.URL, "http://")+",reason=failures"] != 1 {
		t.Fatalf("demotions = %v", d)
	}
	bad.setFault(nil)
	clk.advance(2 * time.Minute)
	if _, err := c.HeadersBatch(context.Background(), []uint64{500}); err != nil {
		t.Fatal(err)
	}
	if bad.count("eth_getBlockByNumber") != 4 {
		t.Fatal("demoted endpoint not tried again after rpc_demote_for")
	}
}

// TestLagDemotion: an endpoint more than rpc_lag_blocks behind for
// rpc_lag_for is demoted; requests for blocks above its head never go to it.
func TestLagDemotion(t *testing.T) {
	lag, good := newFakeNode(t, ""), newFakeNode(t, "")
	lag.head.Store(1_000_000 - 200)
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := testConfig(lag.url("/"), good.url("/"))
	cfg.LagBlocks, cfg.LagFor, cfg.HeadProbeInterval = 50, 30*time.Second, 10*time.Second
	c := mustNew(t, cfg, nil, nil, clk.now)
	head, err := c.Head(context.Background())
	if err != nil || head != 1_000_000 {
		t.Fatalf("Head = %d, %v", head, err)
	}
	// Blocks above the lagging head go to the other endpoint only.
	if _, err := c.Logs(context.Background(), 999_900, 999_950, pool, nil); err != nil {
		t.Fatal(err)
	}
	if lag.count("eth_getLogs") != 0 {
		t.Fatal("eth_getLogs above its head sent to the lagging endpoint")
	}
	// Blocks it has go to it: it is first and not demoted yet.
	if _, err := c.Logs(context.Background(), 500_000, 500_100, pool, nil); err != nil {
		t.Fatal(err)
	}
	if lag.count("eth_getLogs") != 1 {
		t.Fatalf("lagging endpoint got %d eth_getLogs before its demotion, want 1", lag.count("eth_getLogs"))
	}
	clk.advance(31 * time.Second)
	if _, err := c.Head(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c.endpoints[0].demoted(clk.now()) {
		t.Fatal("endpoint lagging 200 blocks for 31s not demoted")
	}
	if _, err := c.Logs(context.Background(), 500_200, 500_300, pool, nil); err != nil {
		t.Fatal(err)
	}
	if lag.count("eth_getLogs") != 1 {
		t.Fatal("demoted endpoint still preferred")
	}
}

// TestNoKeyInLogsOrErrors: keys in the path, query and user info never
// appear in logs or errors, whatever fails.
func TestNoKeyInLogsOrErrors(t *testing.T) {
	f := newFakeNode(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://user:SECRETKEY@" + ln.Addr().String() + "/v2/SECRETKEY?apikey=SECRETKEY"
	_ = ln.Close() // connection refused from now on
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := testConfig(secret.URL(f.srv.URL+"/v2/SECRETKEY?apikey=SECRETKEY"), secret.URL(dead))
	cfg.MaxAttempts = 4
	c := mustNew(t, cfg, log, nil, nil)
	f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if method == "eth_getLogs" {
			http.Error(w, "upstream failed", 503)
			return true
		}
		return false
	})
	_, err = c.Logs(context.Background(), 1, 10, pool, nil)
	if err == nil {
		t.Fatal("expected an error")
	}
	text := err.Error() + buf.String() + strings.Join(c.Endpoints(), " ")
	if strings.Contains(text, "SECRETKEY") {
		t.Fatalf("key leaked: %s", text)
	}
	if !strings.Contains(buf.String(), "rpc endpoint unavailable at start") {
		t.Fatalf("dead endpoint not logged: %s", buf.String())
	}
}

// TestForgetHeaders: cached headers are served without a request until
// ForgetHeaders drops those from a block on; lower ones stay cached.
func TestForgetHeaders(t *testing.T) {
	f := newFakeNode(t, "")
	c := mustNew(t, testConfig(f.url("/")), nil, nil, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		forget    uint64 // 0: none
		wantAsked int    // cumulative header requests after the read
	}{
		{0, 3},
		{0, 3},
		{6, 5},
		{8, 5},
		{1, 8},
	} {
		if tc.forget != 0 {
			c.ForgetHeaders(tc.forget)
		}
		hs, err := c.HeadersBatch(ctx, []uint64{5, 6, 7})
		if err != nil {
			t.Fatal(err)
		}
		if hs[0].Number != 5 || hs[2].Number != 7 {
			t.Fatalf("headers %v, want blocks 5, 6, 7", hs)
		}
		if n := f.count("eth_getBlockByNumber"); n != tc.wantAsked {
			t.Fatalf("after ForgetHeaders(%d): %d header requests, want %d", tc.forget, n, tc.wantAsked)
		}
	}
}
