package alerter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// hook is a webhook receiver on 127.0.0.1 that records every POST and fails
// the first failFirst of them with 503.
type hook struct {
	srv       *httptest.Server
	mu        sync.Mutex
	failFirst int
	status    int // answer after the failures; 0 means 200
	attempts  []string
	accepted  []Alert
}

func newHook(t testing.TB, failFirst int) *hook {
	t.Helper()
	h := &hook{failFirst: failFirst}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var al Alert
		if err := json.NewDecoder(r.Body).Decode(&al); err != nil || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get(HeaderIdempotencyKey) != al.IdempotencyKey() {
			http.Error(w, "bad alert request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.attempts = append(h.attempts, al.IdempotencyKey())
		if len(h.attempts) <= h.failFirst {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		if h.status != 0 {
			http.Error(w, "no", h.status)
			return
		}
		h.accepted = append(h.accepted, al)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// keys returns the idempotency keys of the accepted alerts, sorted.
func (h *hook) keys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, a := range h.accepted {
		out = append(out, a.IdempotencyKey())
	}
	slices.Sort(out)
	return out
}

func (h *hook) attemptCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.attempts)
}

// url returns the hook's URL with a token in the query, which must never be
// logged.
func (h *hook) url() secret.URL { return secret.URL(h.srv.URL + "/alerts?token=" + token) }

const token = "s3cr3t-t0ken"

func testConfig(brokers []string, topic, group string, webhook secret.URL) Config {
	cfg := DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID = brokers, topic, group
	cfg.ThresholdUSD = "100000"
	cfg.WebhookURL = webhook
	cfg.WebhookTimeout = 2 * time.Second
	cfg.WebhookAttempts = 4
	cfg.RetryBackoff = 10 * time.Millisecond
	return cfg
}

// event returns a confirmed LiquidationEvent at revision 1.
func event(chainID uint64, n int, collateralUSD string) *liqstreamv1.LiquidationEvent {
	tx := fmt.Sprintf("0x%064x", n)
	return &liqstreamv1.LiquidationEvent{
		ChainId: chainID, Chain: map[uint64]string{1: "ethereum", 137: "polygon"}[chainID],
		Protocol: "aave-v3", Market: "AaveV3Test", BlockNumber: uint64(1000 + n), TxHash: tx, LogIndex: 3,
		Borrower: fmt.Sprintf("0x%040x", n), Liquidator: fmt.Sprintf("0x%040x", 1000+n),
		CollateralAsset: &liqstreamv1.Asset{Symbol: "WETH", Decimals: 18},
		DebtAsset:       &liqstreamv1.Asset{Symbol: "USDC", Decimals: 6},
		CollateralUsd:   collateralUSD, DebtUsd: "1.00000000",
		EventId:  fmt.Sprintf("%d:%s:3", chainID, tx),
		Revision: 1, Status: liqstreamv1.Status_STATUS_CONFIRMED, MethodVersion: "aave-v3/1",
	}
}

func revise(ev *liqstreamv1.LiquidationEvent, collateralUSD string) *liqstreamv1.LiquidationEvent {
	c := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
	c.Revision++
	c.CollateralUsd = collateralUSD
	return c
}

func retract(ev *liqstreamv1.LiquidationEvent) *liqstreamv1.LiquidationEvent {
	c := proto.Clone(ev).(*liqstreamv1.LiquidationEvent)
	c.Revision++
	c.Status = liqstreamv1.Status_STATUS_RETRACTED
	return c
}

// record is one topic record: schema header and value.
type record struct {
	schema string
	value  []byte
	key    []byte
}

func liq(t testing.TB, ev *liqstreamv1.LiquidationEvent) record {
	t.Helper()
	b, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return record{schema: topics.SchemaLiquidationEvent, value: b, key: topics.Key(ev.GetChainId(), ev.GetBorrower())}
}

func deficit(t testing.TB, ev *liqstreamv1.LiquidationEvent) record {
	t.Helper()
	b, err := proto.Marshal(&liqstreamv1.DeficitEvent{ChainId: ev.GetChainId(), Borrower: ev.GetBorrower(),
		AmountUsd: "9999999.00000000", EventId: ev.GetEventId() + "-deficit", Revision: 1})
	if err != nil {
		t.Fatal(err)
	}
	return record{schema: topics.SchemaDeficitEvent, value: b, key: topics.Key(ev.GetChainId(), ev.GetBorrower())}
}

func (r record) headers() []kafka.Header {
	return []kafka.Header{{Key: topics.HeaderSchema, Value: []byte(r.schema)}, {Key: topics.HeaderContentType, Value: []byte("application/x-protobuf")}}
}

func key(kind string, ev *liqstreamv1.LiquidationEvent) string {
	return fmt.Sprintf("%s:%s:%d", kind, ev.GetEventId(), ev.GetRevision())
}

// scenario is the record sequence both the unit and the Kafka test use, with
// the alerts it must produce at threshold 100000.
func scenario(t testing.TB) ([]record, []string) {
	t.Helper()
	below := event(1, 1, "99999.99999999")    // one 1e-8 USD under: no alert
	exact := event(137, 2, "100000.00000000") // exactly the threshold: alerts
	big := event(1, 3, "2500000.12345678")
	bigRev := revise(big, "2600000.00000000")
	bigGone := retract(bigRev)
	other := event(137, 4, "150000.00000000")
	otherGone := retract(other)
	lowGone := retract(below) // never alerted: no notice
	climbs := revise(event(1, 5, "50000.00000000"), "120000.00000000")
	recs := []record{
		liq(t, below), liq(t, exact), liq(t, big), liq(t, big), // duplicate of big
		deficit(t, big), liq(t, bigRev), liq(t, big), // stale copy after the revision
		liq(t, bigGone), liq(t, bigGone), liq(t, other), liq(t, otherGone),
		liq(t, lowGone), liq(t, event(1, 5, "50000.00000000")), liq(t, climbs),
		{schema: topics.SchemaLiquidationEvent, value: []byte{0xff, 0xff}, key: []byte("1:0xbad")},
		{schema: "", value: []byte("no header"), key: []byte("1:0xnohdr")},
	}
	want := []string{
		key(KindLiquidation, exact), key(KindLiquidation, big), key(KindUpdate, bigRev),
		key(KindRetraction, bigGone), key(KindLiquidation, other), key(KindRetraction, otherGone),
		key(KindLiquidation, climbs),
	}
	slices.Sort(want)
	return recs, want
}

func TestHandle(t *testing.T) {
	h := newHook(t, 0)
	var logs bytes.Buffer
	a, err := New(testConfig([]string{"127.0.0.1:1"}, "t", "g", h.url()), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	recs, want := scenario(t)
	for i, r := range recs {
		if err := a.Handle(context.Background(), r.headers(), r.value); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if got := h.keys(); !slices.Equal(got, want) {
		t.Errorf("alerts:\n got %v\nwant %v", got, want)
	}
	if n := h.attemptCount(); n != len(want) {
		t.Errorf("%d POSTs, want %d (one per alert)", n, len(want))
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("logs show the webhook token:\n%s", logs.String())
	}
}

func TestAlertBody(t *testing.T) {
	h := newHook(t, 0)
	a, err := New(testConfig([]string{"127.0.0.1:1"}, "t", "g", h.url()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ev := event(137, 7, "100000.00000001")
	r := liq(t, ev)
	if err := a.Handle(context.Background(), r.headers(), r.value); err != nil {
		t.Fatal(err)
	}
	want := Alert{Kind: KindLiquidation, EventID: ev.EventId, Revision: 1, ChainID: 137, Chain: "polygon",
		Protocol: "aave-v3", Market: "AaveV3Test", BlockNumber: 1007, TxHash: ev.TxHash, Borrower: ev.Borrower,
		Liquidator: ev.Liquidator, Collateral: "WETH", Debt: "USDC", CollateralUSD: "100000.00000001",
		DebtUSD: "1.00000000", ThresholdUSD: "100000.00000000", MethodVersion: "aave-v3/1"}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.accepted) != 1 || h.accepted[0] != want {
		t.Errorf("accepted %+v\nwant [%+v]", h.accepted, want)
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name         string
		failFirst    int
		status       int
		wantAttempts int
		wantErr      bool
		retryable    bool
	}{
		{name: "fails twice then accepts", failFirst: 2, wantAttempts: 3},
		{name: "always 503 gives up after webhook_attempts", failFirst: 100, wantAttempts: 4, wantErr: true, retryable: true},
		{name: "400 is not retried", status: http.StatusBadRequest, wantAttempts: 1, wantErr: true},
		{name: "429 is retried", status: http.StatusTooManyRequests, wantAttempts: 4, wantErr: true, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHook(t, tt.failFirst)
			h.status = tt.status
			a, err := New(testConfig([]string{"127.0.0.1:1"}, "t", "g", h.url()), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ev := event(1, 9, "500000.00000000")
			r := liq(t, ev)
			err = a.Handle(context.Background(), r.headers(), r.value)
			if got := h.attemptCount(); got != tt.wantAttempts {
				t.Errorf("%d attempts, want %d", got, tt.wantAttempts)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				if got := h.keys(); !slices.Equal(got, []string{key(KindLiquidation, ev)}) {
					t.Errorf("accepted %v", got)
				}
				return
			}
			var we *WebhookError
			if !errors.As(err, &we) || we.Attempts != tt.wantAttempts {
				t.Errorf("err = %#v, want *WebhookError with %d attempts", err, tt.wantAttempts)
			}
			if IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", IsRetryable(err), tt.retryable)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the webhook token: %v", err)
			}
			// The failed alert left no state: the redelivered record alerts.
			h.mu.Lock()
			h.status, h.failFirst = 0, 0
			h.mu.Unlock()
			if err := a.Handle(context.Background(), r.headers(), r.value); err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			if got := h.keys(); !slices.Equal(got, []string{key(KindLiquidation, ev)}) {
				t.Errorf("after redelivery accepted %v", got)
			}
		})
	}
}

func TestWebhookUnreachableHidesToken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := testConfig([]string{"127.0.0.1:1"}, "t", "g", secret.URL("http://user:"+token+"@"+addr+"/hook/"+token))
	cfg.WebhookAttempts = 2
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := liq(t, event(1, 1, "200000.00000000"))
	err = a.Handle(context.Background(), r.headers(), r.value)
	if !IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable *WebhookError", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the webhook token: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig([]string{"127.0.0.1:9092"}, "t", "g", "https://hooks.example/"+token)
	tests := []struct {
		name    string
		edit    func(*Config)
		wantKey string
	}{
		{"valid", func(*Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers"},
		{"no topic", func(c *Config) { c.Topic = "" }, "topic"},
		{"no group", func(c *Config) { c.GroupID = "" }, "group_id"},
		{"threshold with 9 decimals", func(c *Config) { c.ThresholdUSD = "1.000000001" }, "threshold_usd"},
		{"threshold not a number", func(c *Config) { c.ThresholdUSD = "1e6" }, "threshold_usd"},
		{"negative threshold", func(c *Config) { c.ThresholdUSD = "-1" }, "threshold_usd"},
		{"no webhook", func(c *Config) { c.WebhookURL = "" }, "webhook_url"},
		{"webhook not http", func(c *Config) { c.WebhookURL = "ftp://x/" + token }, "webhook_url"},
		{"zero timeout", func(c *Config) { c.WebhookTimeout = 0 }, "webhook_timeout"},
		{"zero attempts", func(c *Config) { c.WebhookAttempts = 0 }, "webhook_attempts"},
		{"zero backoff", func(c *Config) { c.RetryBackoff = 0 }, "retry_backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("err = %v, want ErrConfig naming %s", err, tt.wantKey)
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the webhook token: %v", err)
			}
		})
	}
}
