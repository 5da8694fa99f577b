// Package decode turns raw Aave LiquidationCall logs into typed values. It is
// the second stage of ingest's data path (rpc → decode → price → publish).
//
// Contract: Decode reads topics and data of one log and fills a caller-owned
// LiquidationCall without allocating. It accepts exactly the canonical ABI
// encoding of
//
//	LiquidationCall(address indexed collateralAsset, address indexed debtAsset,
//	                address indexed user, uint256 debtToCover,
//	                uint256 liquidatedCollateralAmount, address liquidator,
//	                bool receiveAToken)
//
// (Aave V2, V3 and their forks emit the same event): four topics, four data
// words, address words with twelve zero bytes of padding and bool words that
// are 0 or 1. Anything else is rejected with an *Error that wraps one of the
// sentinels below, so a caller can route the log to the dead-letter topic with
// Reason(err) as a stable label. Decode never panics on any input.
//
// DecodeV1 reads Aave V1's own LiquidationCall (topic0 0x56864757…, six data
// words; _reserve is the debt asset, ETH is ETHPlaceholder) and DecodeDeficit
// reads V3.3+'s DeficitCreated (bad debt). Both follow the same rules and
// sentinels. Plausibility of amounts (ErrAbsurdAmount) is judged by the
// protocol adapters (package protocol), not here, so Decode stays the exact
// ABI decoder.
package decode
