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
//   - The base currency is detected once per market (CheckBase): 1e8 is USD
//     with 8 decimals (V3); an ETH base (BASE_CURRENCY_UNIT 1e18, or no
//     BASE_CURRENCY_UNIT and WETH priced at 1e18, as V1 and V2 Ethereum) is
//     converted with a Chainlink ETH/USD feed read at the same block; any
//     other base is ErrUnsupportedBase, never a silently wrong USD value.
//   - A node that lacks the state of an event's block is answered at the
//     latest block, flagged in Quote.Latest with the block used.
//   - Reserves reads the liquidation bonus and protocol fee share from the
//     PoolDataProvider; Split reconstructs fee and bonus with Aave's math.
//   - Value computes usd.Value(amount, priceE8, decimals): integer math,
//     truncated, in 1e-8 USD.
//
// The main type is Pricer; it is safe for concurrent use.
package price
