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
