package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestParseRangeError(t *testing.T) {
	const from, to = 0x1000, 0x1000 + 9999 // a refused 10,000-block range
	tests := []struct {
		name      string
		code      int
		msg, data string
		span      uint64
		suggested bool
		ok        bool
	}{
		{"alchemy", -32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x1000, 0x17cf]", "", 2000, true, true},
		{"infura", -32005, "query returned more than 10000 results. Try with this block range [0x1000, 0x13e7].", "", 1000, true, true},
		{"infura in data", -32005, "query returned more than 10000 results", "Try with this block range [0x1000, 0x1063].", 100, true, true},
		{"quicknode", -32614, "eth_getLogs is limited to a 5,000 range", "", 5000, true, true},
		{"blockpi", -32000, "eth_getLogs is limited to 1024 block range", "", 1024, true, true},
		{"ankr", -32600, "block range is too wide", "", 5000, false, true},
		{"publicnode/llamarpc", -32701, "exceed maximum block range: 5000", "", 5000, true, true},
		{"geth", -32602, "exceed maximum block range 2000", "", 2000, true, true},
		{"reth range", -32602, "query exceeds max block range 3000", "", 3000, true, true},
		{"reth results", -32602, "query exceeds max results 20000, retry with the range 4096-4595", "", 500, true, true},
		{"cloudflare", -32047, "Max range: 800", "", 800, true, true},
		{"blast paid", -32000, "exceeds the range allowed for your plan (10000 > 2500).", "", 2500, true, true},
		{"blast/chainstack", -32000, "Block range limit exceeded.", "", 5000, false, true},
		{"thirdweb", -32602, "Maximum allowed number of requested blocks is 1000", "", 1000, true, true},
		{"avalanche", -32000, "requested too many blocks from 4096 to 14095, maximum is set to 2048", "", 2048, true, true},
		{"coinbase", -32000, "please limit the query to at most 1,000 blocks", "", 1000, true, true},
		{"base public", -32000, "block range too large", "", 5000, false, true},
		{"arbitrum", -32000, "logs matched by query exceeds limit of 10000", "", 5000, false, true},
		{"geth too many results", -32000, "too many results", "", 5000, false, true},
		{"1rpc size", -32000, "response size should not greater than 10000000 bytes", "", 5000, false, true},
		{"merkle", -32000, "eth_getLogs range is too large, max is 1k blocks", "", 1000, true, true},
		{"suggestion not smaller: halve", -32602, "exceed maximum block range 50000", "", 5000, true, true},
		{"revert is not a range error", 3, "execution reverted", "", 0, false, false},
		{"rate limit is not", -32005, "daily request count exceeded, request rate limited", "", 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			span, sugg, ok := ParseRangeError(tc.code, tc.msg, tc.data, from, to)
			if span != tc.span || sugg != tc.suggested || ok != tc.ok {
				t.Fatalf("ParseRangeError = (%d, %v, %v), want (%d, %v, %v)", span, sugg, ok, tc.span, tc.suggested, tc.ok)
			}
		})
	}
}

func TestParseRangeErrorNeverRepeatsTheRange(t *testing.T) {
	for refused := uint64(1); refused <= 64; refused++ {
		span, _, ok := ParseRangeError(-32602, "exceed maximum block range 100000", "", 10, 10+refused-1)
		if !ok || span < 1 || (refused > 1 && span >= refused) {
			t.Fatalf("refused %d blocks, retry span %d", refused, span)
		}
	}
}

// TestLogsAdaptRange: the span starts at MaxLogRange, follows a provider's
// suggestion or halves, grows back after LogRangeGrowAfter successes, covers
// every block exactly once and never repeats a refused range.
func TestLogsAdaptRange(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(from, to uint64) (int, string)
		first  uint64 // the span used after the first refusal
	}{
		{"alchemy suggestion", func(from, to uint64) (int, string) {
			return -32602, fmt.Sprintf("Log response size exceeded. ... Based on your parameters, this block range should work: [0x%x, 0x%x]", from, from+1199)
		}, 1200},
		// A fixed cap is remembered: the span never grows past it.
		{"quicknode count", func(uint64, uint64) (int, string) { return -32614, "eth_getLogs is limited to a 1,200 range" }, 1200},
		{"ankr halving", func(uint64, uint64) (int, string) { return -32600, "block range is too wide" }, 2500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNode(t, "")
			f.maxRange, f.refuse = 1200, tc.refuse
			cfg := testConfig(f.url("/"))
			cfg.LogRangeGrowAfter = 3
			c := mustNew(t, cfg, nil, nil, nil)
			logs, err := c.Logs(context.Background(), 100_000, 139_999, pool, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(logs) != 400 {
				t.Fatalf("%d logs, want 400", len(logs))
			}
			asked := f.askedRanges()
			if asked[0] != [2]uint64{100_000, 104_999} {
				t.Fatalf("first range %v, want the 5000-block maximum", asked[0])
			}
			if got := asked[1][1] - asked[1][0] + 1; got != tc.first {
				t.Fatalf("span after the first refusal %d, want %d", got, tc.first)
			}
			// Covered exactly once by the accepted ranges; no refused range
			// asked twice in a row.
			next := uint64(100_000)
			grew := false
			for i, r := range asked {
				span := r[1] - r[0] + 1
				if span > f.maxRange {
					if i > 0 && asked[i-1] == r {
						t.Fatalf("refused range %v asked twice", r)
					}
					grew = grew || i > 1
					continue
				}
				if r[0] != next {
					t.Fatalf("range %v does not continue at %d", r, next)
				}
				next = r[1] + 1
			}
			if next != 140_000 {
				t.Fatalf("covered up to %d", next)
			}
			if hardCap := tc.name == "quicknode count"; grew == hardCap {
				t.Fatalf("grew back past the refusal: %v, want %v (hard cap %v): %v", grew, !hardCap, hardCap, asked)
			}
			t.Logf("%d eth_getLogs for 40,000 blocks under a 1,200-block cap (minimum %d)", len(asked), (40_000+1199)/1200)
		})
	}
}

func TestLogsSingleBlockRefusedFails(t *testing.T) {
	f := newFakeNode(t, "")
	c := mustNew(t, testConfig(f.url("/")), nil, nil, nil)
	f.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if method != "eth_getLogs" {
			return false
		}
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query returned more than 10000 results"}}`))
		return true
	})
	_, err := c.Logs(context.Background(), 1000, 1003, pool, nil)
	if !errors.Is(err, ErrRangeExhausted) || IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"polygon", "block 1000"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	if n := f.count("eth_getLogs"); n != 3 {
		t.Fatalf("%d eth_getLogs (4, 2, 1 blocks), want 3", n)
	}
}
