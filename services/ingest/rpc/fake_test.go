package rpc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	otelmetric "go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// fakeNode is a programmable JSON-RPC node on 127.0.0.1. It has a log every
// logEvery blocks. fault, when set, may answer a request itself (return
// true) before the node does.
type fakeNode struct {
	srv      *httptest.Server
	chainID  uint64
	head     atomic.Uint64
	logEvery uint64

	// maxRange refuses wider eth_getLogs with refuse(from, to).
	maxRange uint64
	refuse   func(from, to uint64) (int, string)

	mu      sync.Mutex
	fault   func(n int64, method string, w http.ResponseWriter) bool
	ranges  [][2]uint64 // eth_getLogs ranges asked, in order
	methods map[string]int
	n       atomic.Int64
}

func newFakeNode(t testing.TB, path string) *fakeNode {
	t.Helper()
	f := &fakeNode{chainID: 137, logEvery: 100, methods: map[string]int{}}
	f.head.Store(1_000_000)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	_ = path
	return f
}

func (f *fakeNode) url(suffix string) secret.URL { return secret.URL(f.srv.URL + suffix) }

func (f *fakeNode) setFault(fn func(n int64, method string, w http.ResponseWriter) bool) {
	f.mu.Lock()
	f.fault = fn
	f.mu.Unlock()
}

func (f *fakeNode) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.methods[method]
}

func (f *fakeNode) askedRanges() [][2]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]uint64(nil), f.ranges...)
}

type fakeReq struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

func (f *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var reqs []fakeReq
	batch := strings.HasPrefix(strings.TrimSpace(string(body)), "[")
	if batch {
		_ = json.Unmarshal(body, &reqs)
	} else {
		var one fakeReq
		_ = json.Unmarshal(body, &one)
		reqs = []fakeReq{one}
	}
	n := f.n.Add(1)
	f.mu.Lock()
	fault := f.fault
	for _, q := range reqs {
		f.methods[q.Method]++
	}
	f.mu.Unlock()
	if fault != nil && fault(n, reqs[0].Method, w) {
		return
	}
	var out []string
	for _, q := range reqs {
		out = append(out, f.answer(q))
	}
	w.Header().Set("Content-Type", "application/json")
	if batch {
		_, _ = io.WriteString(w, "["+strings.Join(out, ",")+"]")
	} else {
		_, _ = io.WriteString(w, out[0])
	}
}

func hexNum(raw json.RawMessage) uint64 {
	var s string
	_ = json.Unmarshal(raw, &s)
	var n uint64
	_, _ = fmt.Sscanf(s, "0x%x", &n)
	return n
}

func (f *fakeNode) answer(q fakeReq) string {
	res := func(v string) string { return `{"jsonrpc":"2.0","id":` + string(q.ID) + `,"result":` + v + `}` }
	fail := func(code int, msg string) string {
		b, _ := json.Marshal(msg)
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":%s}}`, q.ID, code, b)
	}
	switch q.Method {
	case "eth_chainId":
		return res(fmt.Sprintf(`"0x%x"`, f.chainID))
	case "eth_blockNumber":
		return res(fmt.Sprintf(`"0x%x"`, f.head.Load()))
	case "eth_getBlockByNumber":
		var tag string
		_ = json.Unmarshal(q.Params[0], &tag)
		n := hexNum(q.Params[0])
		if !strings.HasPrefix(tag, "0x") {
			n = f.head.Load()
		}
		if n > f.head.Load() {
			return res("null")
		}
		return res(fmt.Sprintf(`{"number":"0x%x","hash":"0x%064x","parentHash":"0x%064x","timestamp":"0x%x"}`, n, n+1, n, 1_700_000_000+2*n))
	case "eth_call":
		return res(`"0x` + strings.Repeat("0", 63) + `1"`)
	case "eth_getLogs":
		var q0 struct {
			FromBlock json.RawMessage `json:"fromBlock"`
			ToBlock   json.RawMessage `json:"toBlock"`
		}
		_ = json.Unmarshal(q.Params[0], &q0)
		from, to := hexNum(q0.FromBlock), hexNum(q0.ToBlock)
		f.mu.Lock()
		f.ranges = append(f.ranges, [2]uint64{from, to})
		f.mu.Unlock()
		if f.maxRange > 0 && to-from+1 > f.maxRange {
			code, msg := f.refuse(from, to)
			return fail(code, msg)
		}
		var logs []string
		for b := (from + f.logEvery - 1) / f.logEvery * f.logEvery; b <= min(to, f.head.Load()); b += f.logEvery {
			logs = append(logs, fmt.Sprintf(`{"address":"0x%040x","topics":["0x%064x"],"data":"0x","blockNumber":"0x%x","transactionHash":"0x%064x","transactionIndex":"0x0","blockHash":"0x%064x","logIndex":"0x0","removed":false}`,
				1, 2, b, b, b+1))
		}
		return res("[" + strings.Join(logs, ",") + "]")
	}
	return fail(-32601, "method not found")
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// metrics collects the rpc_requests counter by "method/endpoint/outcome".
type metrics struct{ r *metric.ManualReader }

func newMetrics() (*metrics, *metric.MeterProvider) {
	r := metric.NewManualReader()
	return &metrics{r: r}, metric.NewMeterProvider(metric.WithReader(r))
}

func (m *metrics) counts(t testing.TB, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			if mm.Name != name {
				continue
			}
			for _, dp := range mm.Data.(metricdata.Sum[int64]).DataPoints {
				var parts []string
				for _, kv := range dp.Attributes.ToSlice() {
					parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
				}
				out[strings.Join(parts, ",")] += dp.Value
			}
		}
	}
	return out
}

// metricProvider is an optional meter provider (nil: no metrics).
type metricProvider struct{ mp *metric.MeterProvider }

func (p *metricProvider) meter() otelmetric.Meter {
	if p == nil {
		return nil
	}
	return p.mp.Meter("test")
}
