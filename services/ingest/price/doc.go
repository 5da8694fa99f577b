// Package price values decoded liquidations in USD. It is the third stage of
// ingest's data path (rpc → decode → price → publish).
//
// Contract:
//   - Token metadata (ERC-20 symbol, as string or bytes32, and decimals) is read
//     once per (chain, token) with batched eth_calls and cached for the life of
//     the Pricer.
//   - Oracle prices come from the market's AaveOracle at the event's block:
//     one getAssetsPrices(address[]) eth_call per (block, asset set), all the
//     blocks of a request sent in one JSON-RPC batch, and cached.
//   - BASE_CURRENCY_UNIT is read once per market. Only 1e8 (USD with 8
//     decimals, all V3 markets) is supported for now; any other base is
//     ErrUnsupportedBase, never a silently wrong USD value.
//   - Value computes usd.Value(amount, priceE8, decimals): integer math,
//     truncated, in 1e-8 USD.
//
// The main type is Pricer; it is safe for concurrent use.
package price
