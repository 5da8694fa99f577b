// Package multicall sends the eth_calls of one block as one Multicall3
// aggregate3 call. It sits between the price stage and the RPC client
// (rpc → decode → price → publish): a Batcher is a price.Caller that wraps
// *rpc.Client.
//
// Contract:
//   - CallBatch groups its calls by block. A block with two or more calls,
//     at or above the Multicall3 deployment block, becomes one aggregate3 call
//     with allowFailure set on every inner call; a lone call, or a block
//     below the deployment, is sent as it is. Everything still goes out in
//     one JSON-RPC batch.
//   - Answers come back indexed like the calls, exactly as the wrapped
//     CallBatch would give them: an inner call that reverts has its own
//     CallResult.Err (*CallFailed); a batch-wide error (transport, rate
//     limit, rpc.ErrBlockNotFound when the node lacks the block's state) is
//     returned as it is, so callers' fallbacks work unchanged.
//   - An aggregate call that fails or answers something that is not a
//     well-formed aggregate3 result (no contract at the address: "0x") is
//     sent again as separate calls, never guessed at, and counted in
//     Stats.Fallbacks.
//   - EncodeAggregate3 and DecodeAggregate3 are hand-written ABI codecs,
//     checked against go-ethereum's accounts/abi by differential tests and
//     fuzzing.
//
// The canonical Multicall3 address (Address) is the same on every chain;
// its deployment block per chain is in package lib/chains
// (Chain.Multicall3Block).
package multicall
