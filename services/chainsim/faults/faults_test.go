package faults_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/chainsim/faults"
	"github.com/liqstream/liqstream/services/chainsim/sim"
)

var (
	simOnce sync.Once
	theSim  *sim.Sim
	simErr  error
)

// polygon returns a shared small simulation; tests must not move its head.
func polygon(t testing.TB) *sim.Sim {
	t.Helper()
	simOnce.Do(func() { theSim, simErr = sim.New(sim.Config{Seed: 7, Scale: 0.05, Chains: []uint64{137}}) })
	if simErr != nil {
		t.Fatal(simErr)
	}
	return theSim
}

type answer struct {
	status int
	header http.Header
	body   string
}

func post(t testing.TB, h http.Handler, body string) answer {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/polygon", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func getLogs(from, to uint64) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x%x","toBlock":"0x%x"}]}`, from, to)
}

func TestRangeCapTexts(t *testing.T) {
	s := polygon(t)
	from := s.BlockAt(137, time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		p    faults.Provider
		code int
		want string
	}{
		{faults.Alchemy, -32602, fmt.Sprintf("this block range should work: [0x%x, 0x%x]", from, from+1999)},
		{faults.Infura, -32005, fmt.Sprintf("Try with this block range [0x%x, 0x%x].", from, from+1999)},
		{faults.QuickNode, -32614, "eth_getLogs is limited to a 2,000 range"},
		{faults.Ankr, -32600, "block range is too wide"},
		{faults.PublicNode, -32701, "exceed maximum block range: 2000"},
		{faults.Geth, -32602, "exceed maximum block range 2000"},
		{faults.Reth, -32602, "query exceeds max block range 2000"},
		{faults.Cloudflare, -32047, "Max range: 2000"},
		{faults.Blast, -32000, "Block range limit exceeded."},
	}
	for _, tc := range tests {
		t.Run(string(tc.p), func(t *testing.T) {
			in, err := faults.New(faults.Config{Provider: tc.p, MaxRange: 2000}, s.Handler())
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			a := post(t, in, getLogs(from, from+5000))
			if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Error.Code != tc.code || !strings.Contains(resp.Error.Message, tc.want) {
				t.Fatalf("error %d %q, want %d containing %q", resp.Error.Code, resp.Error.Message, tc.code, tc.want)
			}
			if a := post(t, in, getLogs(from, from+1999)); !strings.Contains(a.body, `"result":[`) {
				t.Fatalf("a range at the cap was refused: %s", a.body[:min(len(a.body), 200)])
			}
			if in.Stats().RangeRefused != 1 {
				t.Fatalf("stats %+v", in.Stats())
			}
		})
	}
}

func TestResultCapSuggestsFittingRange(t *testing.T) {
	s := polygon(t)
	from := s.BlockAt(137, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	to := s.BlockAt(137, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	in, err := faults.New(faults.Config{Provider: faults.Infura, MaxResults: 5}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	a := post(t, in, getLogs(from, to))
	var resp struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(a.body), &resp)
	var lo, hi uint64
	if _, err := fmt.Sscanf(resp.Error.Message[strings.Index(resp.Error.Message, "["):], "[0x%x, 0x%x]", &lo, &hi); err != nil {
		t.Fatalf("no range in %q: %v", resp.Error.Message, err)
	}
	b := post(t, in, getLogs(lo, hi))
	var ok struct{ Result []json.RawMessage }
	if err := json.Unmarshal([]byte(b.body), &ok); err != nil || len(ok.Result) > 5 {
		t.Fatalf("suggested range [%d,%d] returned %d logs (%v)", lo, hi, len(ok.Result), err)
	}
}

func TestThrottleRetryAfter(t *testing.T) {
	s := polygon(t)
	tests := []struct {
		name  string
		cfg   faults.Config
		check func(v string) bool
	}{
		{"seconds", faults.Config{Burst429Every: 1, RetryAfter: 2 * time.Second}, func(v string) bool { return v == "2" }},
		{"http-date", faults.Config{Burst429Every: 1, RetryAfter: 2 * time.Second, RetryAfterDate: true}, func(v string) bool {
			at, err := http.ParseTime(v)
			return err == nil && time.Until(at) > time.Second && time.Until(at) < 4*time.Second
		}},
		{"none", faults.Config{Burst429Every: 1}, func(v string) bool { return v == "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := faults.New(tc.cfg, s.Handler())
			if err != nil {
				t.Fatal(err)
			}
			a := post(t, in, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`)
			if a.status != http.StatusTooManyRequests || !tc.check(a.header.Get("Retry-After")) {
				t.Fatalf("status %d Retry-After %q", a.status, a.header.Get("Retry-After"))
			}
		})
	}
}

func TestLagClampsHeadAndLogs(t *testing.T) {
	s := polygon(t)
	head := s.Head(137)
	in, err := faults.New(faults.Config{LagBlocks: 100}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	if a := post(t, in, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`); !strings.Contains(a.body, fmt.Sprintf(`"0x%x"`, head-100)) {
		t.Fatalf("eth_blockNumber %s, want head-100 %d", a.body, head-100)
	}
	a := post(t, in, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x%x",false]}`, head-50))
	if !strings.Contains(a.body, `"result":null`) {
		t.Fatalf("block above the lagged head served: %.200s", a.body)
	}
	if a := post(t, in, getLogs(head-50, head)); !strings.Contains(a.body, `"result":[]`) {
		t.Fatalf("logs above the lagged head served: %.200s", a.body)
	}
}

// TestDeterministicFromSeed replays a request sequence twice with one seed
// and finds the same faults.
func TestDeterministicFromSeed(t *testing.T) {
	s := polygon(t)
	run := func(seed int64) []int {
		in, err := faults.New(faults.Config{Seed: seed, Burst429Every: 10, ServerErrorRate: 0.1, MalformedRate: 0.1, WrongTypeRate: 0.1}, s.Handler())
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(in)
		defer srv.Close()
		var out []int
		for range 60 {
			resp, err := http.Post(srv.URL+"/polygon", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out = append(out, resp.StatusCode*1000+len(b))
		}
		st := in.Stats()
		if st.Throttled == 0 || st.ServerErrors == 0 || st.Malformed == 0 || st.WrongTypes == 0 {
			t.Fatalf("seed %d injected too little: %+v", seed, st)
		}
		return out
	}
	a, b := run(42), run(42)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
}

// TestOmitLogBlockTimestamp checks that a provider with
// omit_log_block_timestamp serves the same logs as chainsim minus
// blockTimestamp, on every eth_getLogs path (range, block hash, batch), and
// that other providers pass it through.
func TestOmitLogBlockTimestamp(t *testing.T) {
	s := polygon(t)
	ev := s.Truth().Events(137)[3]
	byRange := getLogs(ev.BlockNumber-20_000, ev.BlockNumber+20_000)
	byHash := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"blockHash":"%s"}]}`, ev.BlockHash.Hex())
	batch := "[" + byRange + "," + `{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}` + "]"
	tests := []struct {
		name string
		body string
	}{
		{"range", byRange},
		{"block hash", byHash},
		{"batch", batch},
	}
	omit, err := faults.New(faults.Config{OmitLogBlockTimestamp: true}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	keep, err := faults.New(faults.Config{}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			direct := logObjects(t, post(t, s.Handler(), tt.body).body)
			kept := logObjects(t, post(t, keep, tt.body).body)
			omitted := logObjects(t, post(t, omit, tt.body).body)
			if len(direct) == 0 || len(kept) != len(direct) || len(omitted) != len(direct) {
				t.Fatalf("%d logs direct, %d through a provider, %d through the omitting one", len(direct), len(kept), len(omitted))
			}
			for i := range direct {
				if _, ok := direct[i]["blockTimestamp"]; !ok {
					t.Fatalf("chainsim log %d has no blockTimestamp: %v", i, direct[i])
				}
				if fmt.Sprint(kept[i]) != fmt.Sprint(direct[i]) {
					t.Fatalf("log %d changed by a provider without the fault:\n%v\n%v", i, kept[i], direct[i])
				}
				if _, ok := omitted[i]["blockTimestamp"]; ok {
					t.Fatalf("log %d still has blockTimestamp: %v", i, omitted[i])
				}
				delete(direct[i], "blockTimestamp")
				if fmt.Sprint(omitted[i]) != fmt.Sprint(direct[i]) {
					t.Fatalf("log %d differs beyond blockTimestamp:\n%v\n%v", i, omitted[i], direct[i])
				}
			}
		})
	}
	if st := omit.Stats(); st.TimestampsOmitted != int64(len(tests)) {
		t.Fatalf("TimestampsOmitted = %d, want %d", st.TimestampsOmitted, len(tests))
	}
	if st := keep.Stats(); st.TimestampsOmitted != 0 {
		t.Fatalf("TimestampsOmitted = %d without the fault", st.TimestampsOmitted)
	}
}

// logObjects decodes the log objects of every eth_getLogs result of a
// single or batched answer (other results are skipped).
func logObjects(t *testing.T, body string) []map[string]string {
	t.Helper()
	var resps []struct {
		Result json.RawMessage `json:"result"`
	}
	if strings.HasPrefix(body, "[") {
		if err := json.Unmarshal([]byte(body), &resps); err != nil {
			t.Fatalf("answer %.200s: %v", body, err)
		}
	} else {
		resps = make([]struct {
			Result json.RawMessage `json:"result"`
		}, 1)
		if err := json.Unmarshal([]byte(body), &resps[0]); err != nil {
			t.Fatalf("answer %.200s: %v", body, err)
		}
	}
	var out []map[string]string
	for _, r := range resps {
		if !strings.HasPrefix(string(r.Result), "[") {
			continue
		}
		var logs []map[string]json.RawMessage
		if err := json.Unmarshal(r.Result, &logs); err != nil {
			t.Fatalf("result %.200s: %v", r.Result, err)
		}
		for _, l := range logs {
			m := map[string]string{}
			for k, v := range l {
				m[k] = string(v)
			}
			out = append(out, m)
		}
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  faults.Config
		want string
	}{
		{faults.Config{Provider: "acme"}, "provider"},
		{faults.Config{MalformedRate: 2}, "malformed_rate"},
		{faults.Config{Latency: -1}, "latency"},
	}
	for _, tc := range tests {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}

// TestMulticall3UnderFaults: an aggregate3 eth_call meets the faults of
// eth_call as one call, as on a real node: a lagging endpoint refuses it
// whole above its head ("header not found", not per-call failures), serves
// it unchanged below, and an HTTP-level fault takes it whole.
func TestMulticall3UnderFaults(t *testing.T) {
	s := polygon(t)
	head := s.Head(137)
	mc, err := abi.JSON(strings.NewReader(`[{"inputs":[{"components":[{"internalType":"address","name":"target","type":"address"},{"internalType":"bool","name":"allowFailure","type":"bool"},{"internalType":"bytes","name":"callData","type":"bytes"}],"internalType":"struct Multicall3.Call3[]","name":"calls","type":"tuple[]"}],"name":"aggregate3","outputs":[{"components":[{"internalType":"bool","name":"success","type":"bool"},{"internalType":"bytes","name":"returnData","type":"bytes"}],"internalType":"struct Multicall3.Result[]","name":"returnData","type":"tuple[]"}],"stateMutability":"payable","type":"function"}]`))
	if err != nil {
		t.Fatal(err)
	}
	type call3 struct {
		Target       common.Address
		AllowFailure bool
		CallData     []byte
	}
	data, err := mc.Pack("aggregate3", []call3{
		{s.Oracle(137), true, common.FromHex("0x8c89b64f")},                 // BASE_CURRENCY_UNIT
		{s.Assets(137)[0].Address, true, common.FromHex("0x313ce567")},      // decimals
		{common.HexToAddress("0xbeef"), true, common.FromHex("0x313ce567")}, // no such contract
	})
	if err != nil {
		t.Fatal(err)
	}
	body := func(block uint64) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"%s","data":"0x%x"},"0x%x"]}`, sim.Multicall3.Hex(), data, block)
	}
	lagged, err := faults.New(faults.Config{LagBlocks: 100}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	failing, err := faults.New(faults.Config{ServerErrorRate: 1}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		h      http.Handler
		block  uint64
		status int
		want   string // the answer, or a part of it
	}{
		{"lagged, above its head", lagged, head - 50, http.StatusOK, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`},
		{"lagged, below its head", lagged, head - 150, http.StatusOK, post(t, s.Handler(), body(head-150)).body},
		{"server errors", failing, head - 150, http.StatusServiceUnavailable, "upstream unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, tt.h, body(tt.block))
			if a.status != tt.status || !strings.Contains(a.body, tt.want) {
				t.Fatalf("status %d, answer %.300s; want %d with %.300s", a.status, a.body, tt.status, tt.want)
			}
		})
	}
	if direct := post(t, s.Handler(), body(head-150)).body; !strings.Contains(direct, `"result":"0x`) || len(direct) < 300 {
		t.Fatalf("direct aggregate3 answer %s", direct)
	}
}
