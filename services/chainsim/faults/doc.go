// Package faults makes chainsim behave like the RPC providers ingest meets in
// the wild. It wraps a JSON-RPC http.Handler (normally sim.Handler()) and,
// per simulated provider, injects:
//
//   - eth_getLogs range caps and result caps, answered with that provider's
//     real error code and text (Alchemy's "this block range should work",
//     Infura's "Try with this block range", QuickNode's "limited to a 10,000
//     range", Ankr's "block range is too wide", PublicNode's "exceed maximum
//     block range: N", geth's, reth's, Cloudflare's and Blast's texts);
//   - bursts of HTTP 429, with a Retry-After header in seconds, as an
//     HTTP-date, or none;
//   - latency, HTTP 5xx, requests that hang until the client gives up,
//     truncated (malformed) JSON bodies and results of the wrong type;
//   - eth_getLogs answers without "blockTimestamp" in the log objects
//     (omit_log_block_timestamp), as older nodes and some providers serve
//     them, where chainsim serves it by default like current geth;
//   - a lagging endpoint whose head is N blocks behind: eth_blockNumber,
//     "latest"/"safe"/"finalized", headers, logs and eth_call all stop at the
//     lagged head, as a node that is catching up does.
//
// Faults apply per request whatever an eth_call does: a Multicall3
// aggregate3 call fails or succeeds as a whole, as on a real node.
//
// The main type is Injector, built by New from a Config and the handler it
// wraps. Every decision comes from a generator seeded with Config.Seed and
// drawn in request arrival order, so a run with sequential requests is
// reproducible. Reorgs are not injected here yet (a separate task); the
// per-request rewrite step in rewrite() is where they would go.
//
// Stats reports what was injected, so tests and benchmarks can assert that
// faults really happened.
package faults
