package chains

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

//go:embed data/chains.json
var chainsJSON []byte

//go:embed data/aave_markets.json
var marketsJSON []byte

// ErrUnknownChain is returned (wrapped) by Lookup for a slug or id the registry
// does not know.
var ErrUnknownChain = errors.New("unknown chain")

// Chain is one EVM chain.
type Chain struct {
	Slug string
	ID   uint64
	Name string
	// ApproxBlockTime is a rough block time in seconds, 0 when unknown. It is a
	// hint for progress estimates only; block times are read from headers.
	ApproxBlockTime float64
	// Confirmations is the default reorg-safety depth: ingest follows the head
	// this many blocks behind when the chain serves no finalized tag.
	Confirmations uint64
	// MaxLogRange is the default largest eth_getLogs block range to request.
	MaxLogRange uint64
	// Multicall3Block is the block Multicall3 was deployed at on this chain
	// (at its canonical address 0xcA11bde05977b3631167028862bE2a173976CA11),
	// 0 when unknown: ingest then sends its eth_calls one by one.
	Multicall3Block uint64
}

// Market is one lending market: a pool contract on one chain.
type Market struct {
	Name       string // e.g. "AaveV3Ethereum"
	Protocol   string // e.g. "aave-v3"
	Version    string // "v1", "v2" or "v3"
	ChainID    uint64
	Pool       string // lowercase hex
	Oracle     string // lowercase hex, empty when the address book has none
	StartBlock uint64 // 0 when unknown
	// DataProvider is the PoolDataProvider (reserve configuration: bonus,
	// protocol fee), lowercase hex; empty when unknown.
	DataProvider string
	// ETHUSDFeed is a Chainlink ETH/USD aggregator on the market's chain,
	// set for markets whose oracle may quote in ETH (V1, V2 Ethereum and
	// Polygon); empty otherwise.
	ETHUSDFeed string
}

// Registry holds every known chain and market.
type Registry struct {
	chains  []Chain
	bySlug  map[string]Chain
	byID    map[uint64]Chain
	markets []Market
}

// defaults per chain: confirmation depth and getLogs range. Public indexers
// disagree on safe depths; these follow the upper end of common practice.
//
// multicall3 is Multicall3's deployment block, as viem's chain definitions
// give it (contracts.multicall3.blockCreated in src/chains/definitions).
var defaults = map[string]struct{ conf, logRange, multicall3 uint64 }{
	"ethereum":  {64, 5_000, 14_353_601},
	"polygon":   {200, 5_000, 25_770_160},
	"avalanche": {12, 5_000, 11_907_934},
	"arbitrum":  {24, 50_000, 7_654_707},
	"base":      {24, 10_000, 5_022},
}

// Default returns the registry built from the embedded data files.
func Default() *Registry {
	r, err := parse(chainsJSON, marketsJSON)
	if err != nil {
		panic(fmt.Sprintf("chains: embedded data is invalid: %v", err))
	}
	return r
}

func parse(chainsData, marketsData []byte) (*Registry, error) {
	var cf struct {
		Chains []struct {
			Slug      string   `json:"slug"`
			ChainID   uint64   `json:"chainId"`
			Name      string   `json:"name"`
			BlockTime *float64 `json:"approxBlockTimeSeconds"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(chainsData, &cf); err != nil {
		return nil, fmt.Errorf("parsing chains.json: %w", err)
	}
	var mf struct {
		Markets map[string]struct {
			Version    string  `json:"version"`
			ChainID    uint64  `json:"chainId"`
			Pool       string  `json:"pool"`
			Protocol   string  `json:"protocol"`
			Oracle     *string `json:"aaveOracle"`
			StartBlock *uint64 `json:"poolStartBlock"`
			Provider   *string `json:"poolDataProvider"`
			ETHUSDFeed string  `json:"ethUsdFeed"`
		} `json:"markets"`
	}
	if err := json.Unmarshal(marketsData, &mf); err != nil {
		return nil, fmt.Errorf("parsing aave_markets.json: %w", err)
	}
	r := &Registry{bySlug: map[string]Chain{}, byID: map[uint64]Chain{}}
	for _, c := range cf.Chains {
		ch := Chain{Slug: c.Slug, ID: c.ChainID, Name: c.Name, Confirmations: 64, MaxLogRange: 2_000}
		if c.BlockTime != nil {
			ch.ApproxBlockTime = *c.BlockTime
		}
		if d, ok := defaults[c.Slug]; ok {
			ch.Confirmations, ch.MaxLogRange, ch.Multicall3Block = d.conf, d.logRange, d.multicall3
		}
		r.chains = append(r.chains, ch)
		r.bySlug[ch.Slug] = ch
		r.byID[ch.ID] = ch
	}
	for name, m := range mf.Markets {
		mk := Market{Name: name, Version: m.Version, ChainID: m.ChainID, Pool: strings.ToLower(m.Pool),
			Protocol: "aave-" + m.Version}
		if m.Protocol != "" {
			mk.Protocol = m.Protocol
		}
		if m.Oracle != nil {
			mk.Oracle = strings.ToLower(*m.Oracle)
		}
		if m.Provider != nil {
			mk.DataProvider = strings.ToLower(*m.Provider)
		}
		mk.ETHUSDFeed = strings.ToLower(m.ETHUSDFeed)
		if m.StartBlock != nil {
			mk.StartBlock = *m.StartBlock
		}
		r.markets = append(r.markets, mk)
	}
	sort.Slice(r.markets, func(i, j int) bool { return r.markets[i].Name < r.markets[j].Name })
	return r, nil
}

// Chains returns every known chain, in the order of the data file.
func (r *Registry) Chains() []Chain { return append([]Chain(nil), r.chains...) }

// Lookup resolves a slug ("polygon") or a decimal chain id ("137"). An unknown
// value returns an error wrapping ErrUnknownChain that lists the valid slugs.
func (r *Registry) Lookup(slugOrID string) (Chain, error) {
	s := strings.ToLower(strings.TrimSpace(slugOrID))
	if c, ok := r.bySlug[s]; ok {
		return c, nil
	}
	if id, err := strconv.ParseUint(s, 10, 64); err == nil {
		if c, ok := r.byID[id]; ok {
			return c, nil
		}
	}
	return Chain{}, fmt.Errorf("%w %q: use one of %s (or its chain id)", ErrUnknownChain, slugOrID, strings.Join(r.Slugs(), ", "))
}

// ByID returns the chain with the given id.
func (r *Registry) ByID(id uint64) (Chain, bool) {
	c, ok := r.byID[id]
	return c, ok
}

// Slugs returns every known slug, sorted.
func (r *Registry) Slugs() []string {
	out := make([]string, 0, len(r.chains))
	for _, c := range r.chains {
		out = append(out, c.Slug)
	}
	sort.Strings(out)
	return out
}

// Markets returns the markets on a chain, sorted by name. version filters by
// protocol version ("v3"); empty returns all.
func (r *Registry) Markets(chainID uint64, version string) []Market {
	var out []Market
	for _, m := range r.markets {
		if m.ChainID == chainID && (version == "" || m.Version == version) {
			out = append(out, m)
		}
	}
	return out
}

// Market returns the market with the given name, e.g. "AaveV3Polygon".
func (r *Registry) Market(name string) (Market, bool) {
	for _, m := range r.markets {
		if m.Name == name {
			return m, true
		}
	}
	return Market{}, false
}

// DemoChains are the five chains liqstream runs out of the box, in display order.
var DemoChains = []string{"ethereum", "polygon", "avalanche", "arbitrum", "base"}

// PrimaryV3Market returns the main Aave V3 market of a chain: the one named
// "AaveV3<Name>" where the chain has several (forks such as Spark excluded).
func (r *Registry) PrimaryV3Market(chainID uint64) (Market, bool) {
	var ms []Market
	for _, m := range r.Markets(chainID, "v3") {
		if m.Protocol == "aave-v3" {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return Market{}, false
	}
	best := ms[0]
	for _, m := range ms {
		if len(m.Name) < len(best.Name) {
			best = m
		}
	}
	return best, true
}
