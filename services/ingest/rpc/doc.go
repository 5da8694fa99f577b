// Package rpc is ingest's client over a chain's EVM JSON-RPC endpoints: the
// first stage of the data path (rpc → decode → price → publish). It is built
// to survive real providers:
//
//   - A pool of endpoints per chain (Config.URLs, in order of preference).
//     Each attempt goes to the best endpoint that has the requested block:
//     not demoted, out of its backoff, first in order. An endpoint is demoted
//     for rpc_demote_for when it fails rpc_fail_threshold of its last
//     rpc_fail_window calls or lags more than rpc_lag_blocks behind the best
//     head for rpc_lag_for, and is tried again afterwards. A request for
//     block N never goes to an endpoint whose head is below N, so a lagging
//     node cannot silently answer "no logs".
//   - Retries with exponential backoff and seeded jitter on HTTP 429, 408 and
//     5xx, JSON-RPC rate-limit answers, timeouts, broken connections and bad
//     answers (truncated or malformed JSON, wrong result types, logs outside
//     the requested range, headers of another block); Retry-After (seconds or
//     HTTP-date) is honoured up to rpc_max_backoff. A token bucket limits each
//     endpoint to rate_limit requests per second.
//   - Logs adapts the eth_getLogs span: it starts at Config.MaxLogRange,
//     follows the range a provider's refusal suggests (ParseRangeError knows
//     the texts of Alchemy, Infura, QuickNode, Ankr, PublicNode, geth, reth,
//     Cloudflare, Blast and others) or halves it, grows it back by doubling
//     after log_range_grow_after successes (never past a fixed cap a provider
//     stated), and fails with ErrRangeExhausted naming the chain and block
//     when even one block is refused.
//   - HeadersBatch fetches headers in JSON-RPC batches with a cache
//     (ForgetHeaders drops the cached headers a reorg replaced); CallBatch
//     sends eth_calls in batches, each with its own result.
//   - eth_getLogs results are parsed by ParseLogs, a hand-written parser that
//     accepts exactly what encoding/json into go-ethereum's types.Log accepts
//     and returns the same values (differential and fuzz tests), about 15×
//     faster.
//   - The rest of the JSON on the HTTP path is hand-written too, on the
//     scanner of jsonscan.go, each piece checked against the encoding/json
//     code it replaced by differential and fuzz tests: request bodies are
//     appended directly (reqjson.go; byte for byte what json.Marshal wrote),
//     an answer or batch answer is split into its results in one pass
//     without copying them (answers.go), and block headers and eth_call
//     results are decoded without reflection (headerjson.go, calljson.go).
//
// What is read is bounded (Limits): an answer over rpc_max_response_bytes
// (HTTP body or websocket message) or an eth_getLogs answer with more than
// rpc_max_logs_per_response logs halves the eth_getLogs range like a
// provider's refusal (a single block over a limit fails with
// ErrRangeExhausted naming the key to raise; other methods retry it as a bad
// response), and a batch answer must match its requests one to one
// (ErrBatchMismatch). Each such rejection is counted in
// rpc_responses_rejected{method,endpoint,reason}.
//
// Every attempt is counted in rpc_requests{method,endpoint,outcome} (endpoint
// is the URL's host, never its path or query) and demotions in
// rpc_endpoint_demotions{endpoint,reason}. Errors are *Error values carrying
// the chain, method, block range and redacted endpoint; IsRetryable tells
// transient failures apart. URLs are secret.URL values and are scrubbed from
// every error and log line.
//
// The main type is Client, built by New. It is safe for concurrent use;
// Close releases the connections.
package rpc
