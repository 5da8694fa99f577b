package faults

import (
	"fmt"
	"strconv"
)

// Provider selects whose eth_getLogs refusal texts the injector answers with.
type Provider string

// The imitated providers. Texts are the providers' own, as collected by
// Ponder (packages/utils/src/getLogsRetryHelper.ts) and rindexer
// (retry_with_block_range), and geth's eth/filters/filter.go.
const (
	Alchemy    Provider = "alchemy"
	Infura     Provider = "infura"
	QuickNode  Provider = "quicknode"
	Ankr       Provider = "ankr"
	PublicNode Provider = "publicnode" // also LlamaRPC
	Geth       Provider = "geth"
	Reth       Provider = "reth"
	Cloudflare Provider = "cloudflare"
	Blast      Provider = "blast"
)

// Providers lists every imitated provider.
func Providers() []Provider {
	return []Provider{Alchemy, Infura, QuickNode, Ankr, PublicNode, Geth, Reth, Cloudflare, Blast}
}

// rangeError is the refusal of [from, to] because it spans more than
// maxRange blocks.
func rangeError(p Provider, from, to, maxRange uint64) (code int, msg string) {
	switch p {
	case Alchemy:
		return -32602, alchemyText(from, from+maxRange-1)
	case Infura:
		return -32005, fmt.Sprintf("query returned more than 10000 results. Try with this block range [0x%x, 0x%x].", from, from+maxRange-1)
	case QuickNode:
		return -32614, "eth_getLogs is limited to a " + commas(maxRange) + " range"
	case Ankr:
		return -32600, "block range is too wide"
	case PublicNode:
		return -32701, fmt.Sprintf("exceed maximum block range: %d", maxRange)
	case Reth:
		return -32602, fmt.Sprintf("query exceeds max block range %d", maxRange)
	case Cloudflare:
		return -32047, fmt.Sprintf("Max range: %d", maxRange)
	case Blast:
		return -32000, "Block range limit exceeded."
	}
	return -32602, fmt.Sprintf("exceed maximum block range %d", maxRange) // geth
}

// resultError is the refusal of [from, to] because it matches more than
// maxResults logs; okTo is the last block of [from, okTo] that stays under
// the cap.
func resultError(p Provider, from, to, okTo uint64, maxResults int) (code int, msg string) {
	switch p {
	case Alchemy:
		return -32602, alchemyText(from, okTo)
	case Infura:
		return -32005, fmt.Sprintf("query returned more than %d results. Try with this block range [0x%x, 0x%x].", maxResults, from, okTo)
	case Reth:
		return -32602, fmt.Sprintf("query exceeds max results %d, retry with the range %d-%d", maxResults, from, okTo)
	case Ankr, PublicNode:
		return -32000, fmt.Sprintf("query exceeds max results %d", maxResults)
	}
	// geth-based nodes (Arbitrum's Nitro among them) have no number to offer.
	return -32000, fmt.Sprintf("logs matched by query exceeds limit of %d", maxResults)
}

func alchemyText(from, to uint64) string {
	return fmt.Sprintf("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, "+
		"or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [0x%x, 0x%x]", from, to)
}

// commas formats n with thousands separators, as QuickNode's text does.
func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
