package rpc

import (
	"regexp"
	"strconv"
	"strings"
)

// The texts providers answer when an eth_getLogs range is too wide or
// returns too many logs. The catalogue follows Ponder's
// packages/utils/src/getLogsRetryHelper.ts and rindexer's
// retry_with_block_range (core/src/indexer/fetch_logs.rs), which credits
// Ponder; geth's text is from go-ethereum eth/filters/filter.go ("exceed
// maximum block range %d") and reth's from its EthFilterError
// ("query exceeds max block range %d", "query exceeds max results %d, retry
// with the range %d-%d"). Each pattern is exercised by a test case holding
// the provider's full message.

// explicitRange patterns capture a suggested [from, to] (hex).
var explicitRange = []*regexp.Regexp{
	// Alchemy: "... Based on your parameters, this block range should work: [0x1, 0x7d0]"
	regexp.MustCompile(`this block range should work: \[0x([0-9a-fA-F]+),\s*0x([0-9a-fA-F]+)\]`),
	// Infura, zkSync, thirdweb, Tenderly: "query returned more than 10000 results. Try with this block range [0x1, 0x2]."
	regexp.MustCompile(`(?i)try with this block range \[0x([0-9a-fA-F]+),\s*0x([0-9a-fA-F]+)\]`),
}

// decimalRange patterns capture a suggested "from-to" in decimal.
var decimalRange = []*regexp.Regexp{
	// reth: "query exceeds max results 20000, retry with the range 100-200"
	regexp.MustCompile(`retry with the range (\d+)-(\d+)`),
}

// countPattern captures a maximum block count. Ponder reads some of these
// numbers as to-from (one block more); we read every number as a block
// count, which is never too wide.
type countPattern struct {
	re   *regexp.Regexp
	code int // when non-zero the JSON-RPC code must match too
}

var blockCount = []countPattern{
	// Avalanche: "requested too many blocks from 0 to 5000, maximum is set to 2048"
	{re: regexp.MustCompile(`requested too many blocks from \d+ to \d+, maximum is set to (\d+)`)},
	// Cloudflare: "Max range: 800"
	{re: regexp.MustCompile(`Max range: (\d+)`)},
	// thirdweb: "Maximum allowed number of requested blocks is 1000"
	{re: regexp.MustCompile(`Maximum allowed number of requested blocks is ([\d,.]+)`)},
	// QuickNode, 1RPC, Blast free: "eth_getLogs is limited to a 10,000 range"
	{re: regexp.MustCompile(`limited to a ([\d,.]+)`)},
	// BlockPI: "eth_getLogs is limited to 1024 block range"
	{re: regexp.MustCompile(`limited to ([\d,.]+) block`)},
	// Blast paid: "exceeds the range allowed for your plan (50000 > 25000)."
	{re: regexp.MustCompile(`exceeds the range allowed for your plan \(\d+ > (\d+)\)`)},
	// Coinbase / Base node: "please limit the query to at most 1000 blocks"
	{re: regexp.MustCompile(`please limit the query to at most ([\d,.]+) blocks`)},
	// PublicNode, LlamaRPC: "exceed maximum block range: 50000"; geth's own
	// "exceed maximum block range 10000" (eth/filters/filter.go).
	{re: regexp.MustCompile(`maximum block range:? ([\d,.]+)`)},
	// reth, Hyperliquid: "query exceeds max block range 100000"
	{re: regexp.MustCompile(`query exceeds max block range ([\d,.]+)`)},
	// Swell: "block range greater than 10000 max"
	{re: regexp.MustCompile(`block range greater than ([\d,.]+) max`)},
	// Somnia: "block range exceeds 1000"
	{re: regexp.MustCompile(`block range exceeds ([\d,.]+)`)},
	// Harmony: "query must be smaller than size 1024"
	{re: regexp.MustCompile(`query must be smaller than size ([\d,.]+)`)},
	// Moonriver: "block range is too wide (maximum 1024)"
	{re: regexp.MustCompile(`block range is too wide \(maximum (\d+)\)`)},
	// Aurora: "up to a 2000 block range"
	{re: regexp.MustCompile(`up to a ([\d,.]+) block range`)},
	// Ankr (TAC): "maximum [from, to] blocks distance: 10000"
	{re: regexp.MustCompile(`maximum \[from, to\] blocks distance: (\d+)`)},
	// Merkle: "eth_getLogs range is too large, max is 10k blocks"
	{re: regexp.MustCompile(`range is too large, max is (\d+)k blocks`)},
}

// halvePatterns mean "too wide or too many results" without a usable
// number: the range is halved.
var halvePatterns = []string{
	"block range is too wide",          // Ankr (-32600); Ponder assumes 3000, we halve
	"block range too large",            // Base public node
	"block range is too large",         // Optimism
	"block range limit exceeded",       // Chainstack, Blast
	"query returned more than",         // Infura/zkEVM without a range
	"query exceeds max results",        // LlamaRPC, Ankr, reth without a range
	"logs matched by query exceeds",    // Arbitrum
	"response size should not greater", // 1RPC
	"backend response too large",       // Optimism
	"log response size exceeded",       // Alchemy without a range
	"too many results",                 // geth forks, Erigon
	"response is too big",              // rindexer's list
	"no backend is currently healthy",  // Base under load (Ponder halves)
	"exceed max addresses or topics",   // geth: never with our one-address filter, halving is harmless
	"query timeout exceeded",           // Erigon/Nethermind on wide ranges
	"range too large",                  // generic
	"too many blocks",                  // generic
}

// ParseRangeError interprets a provider's refusal of the eth_getLogs range
// [from, to]. It returns the span (block count) to retry with and whether the
// provider suggested it; ok is false when the error is not about the range.
// span is always at least 1 and, when the refused range is wider than one
// block, smaller than it, so a caller never retries the same range.
func ParseRangeError(code int, message, data string, from, to uint64) (span uint64, suggested, ok bool) {
	span, suggested, _, ok = parseRangeError(code, message, data, from, to)
	return span, suggested, ok
}

// parseRangeError is ParseRangeError that also reports whether the number
// is the provider's fixed block cap (a count such as "limited to a 10,000
// range"), which the span then never grows past, rather than a suggestion
// that depends on how many logs the range holds.
func parseRangeError(code int, message, data string, from, to uint64) (span uint64, suggested, hardCap, ok bool) {
	refused := to - from + 1
	text := message + " " + data
	clamp := func(s uint64) uint64 {
		if s >= refused {
			s = refused / 2
		}
		return max(s, 1)
	}
	for _, re := range explicitRange {
		if m := re.FindStringSubmatch(text); m != nil {
			a, err1 := strconv.ParseUint(m[1], 16, 64)
			b, err2 := strconv.ParseUint(m[2], 16, 64)
			if err1 == nil && err2 == nil && b >= a {
				return clamp(b - a + 1), true, false, true
			}
		}
	}
	for _, re := range decimalRange {
		if m := re.FindStringSubmatch(text); m != nil {
			a, err1 := strconv.ParseUint(m[1], 10, 64)
			b, err2 := strconv.ParseUint(m[2], 10, 64)
			if err1 == nil && err2 == nil && b >= a {
				return clamp(b - a + 1), true, false, true
			}
		}
	}
	for _, p := range blockCount {
		if p.code != 0 && p.code != code {
			continue
		}
		if m := p.re.FindStringSubmatch(text); m != nil {
			n, err := strconv.ParseUint(strings.NewReplacer(",", "", ".", "").Replace(m[1]), 10, 64)
			if err != nil {
				continue
			}
			if strings.Contains(p.re.String(), `k blocks`) {
				n *= 1000
			}
			return clamp(n), true, true, true
		}
	}
	lower := strings.ToLower(text)
	for _, s := range halvePatterns {
		if strings.Contains(lower, s) {
			return clamp(refused / 2), false, false, true
		}
	}
	return 0, false, false, false
}
