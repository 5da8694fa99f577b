// Package chains is the registry of EVM chains and lending markets liqstream
// knows out of the box. It embeds the chain list (slug, id, name) and the Aave
// market address book (pool, oracle, start block per market), and resolves a
// user's --chain argument, given as slug or numeric id, to a Chain.
//
// The same pool address is used on several chains, so markets are keyed by
// (chain id, address), never by address alone.
package chains
