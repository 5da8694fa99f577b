// Package rpc is ingest's thin client over an EVM JSON-RPC endpoint: the first
// stage of the data path (rpc → decode → price → publish). It wraps
// go-ethereum's rpc.Client and adds what ingest needs and nothing else:
//
//   - New checks that eth_chainId matches the configured chain, so a URL for
//     the wrong network fails at start, not after a backfill.
//   - HeadersBatch fetches many block headers in JSON-RPC batches (never one
//     request per log) and caches their number, hash, parent hash and time.
//   - Logs is eth_getLogs over a block range, addresses and topic0s.
//   - CallBatch sends many eth_calls in one batch, each with its own result.
//   - Every request is retried with exponential backoff on transport errors,
//     HTTP 429 and 5xx, up to Config.MaxAttempts; a later issue hardens this
//     (Retry-After, range splitting on provider limits).
//
// Errors are *Error values carrying the chain, the method and the block range,
// wrapping the cause; IsRetryable tells transient failures apart. The endpoint
// URL is a secret.URL and only ever appears redacted in errors and logs.
//
// The main type is Client. It is safe for concurrent use; Close releases the
// underlying connection.
package rpc
