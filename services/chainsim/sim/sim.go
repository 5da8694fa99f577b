package sim

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/liqstream/liqstream/services/lib/chains"
)

// Sim is a running simulation: ground truth plus the state served over
// JSON-RPC. Its methods are safe for concurrent use.
type Sim struct {
	cfg    Config
	order  []uint64
	chains map[uint64]*chainState
	truth  *Truth
	limits serverLimits
}

// chainState is one simulated chain.
type chainState struct {
	id           uint64
	slug         string
	clk          clock
	hash         hasher
	pool, oracle common.Address
	dataProvider common.Address
	assets       []Asset
	byAddr       map[common.Address]*Asset
	calls        map[common.Address]*assetCalls // by asset address
	prices       pricer
	logs         []servedLog // sorted by (block, log index)
	safeDepth    uint64
	finalDepth   uint64
	gasLimit     uint64
	// multicall3Block is the first block Multicall3 has code at.
	multicall3Block uint64
	// srv holds the server's counters.
	srv           *serverLimits
	miners        [7]common.Address // block n's miner is miners[n%7]
	head          atomic.Uint64
	windowStart   uint64 // first block of the window
	windowEnd     uint64 // first block at or after To
	maxLogRange   uint64
	maxLogResults int
	shiftBps      int64 // Config.ReorgPriceShiftBps

	// mu guards logs and gens, which Reorg replaces.
	mu sync.RWMutex
	// gens holds the branch generation of reorged blocks (absent = 0, the
	// original chain); a block's hash depends on it.
	gens    map[uint64]uint32
	lastGen uint32

	// hashCache remembers recent block hashes (see blockHash).
	hashCache [hashCacheSize]atomic.Pointer[hashEntry]
}

// New generates a simulation. It fails (wrapping ErrConfig) for an invalid
// Config.
func New(cfg Config) (*Sim, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reg := chains.Default()
	s := &Sim{cfg: cfg, order: cfg.Chains, chains: map[uint64]*chainState{}}
	days := windowDays(cfg.From, cfg.To)
	counts := dailyCounts(cfg, days)
	prices := newPricer(cfg.Seed, cfg.Chains, cfg.From.Unix(), cfg.To.Unix())
	truth := &Truth{cfg: cfg, chains: cfg.Chains, pools: map[uint64]common.Address{}, events: map[uint64][]Event{}, deficits: map[uint64][]Deficit{}}
	for _, id := range cfg.Chains {
		ch, ok := reg.ByID(id)
		if !ok {
			return nil, fmt.Errorf("%w: chain %d: %w", ErrConfig, id, chains.ErrUnknownChain)
		}
		m, ok := reg.PrimaryV3Market(id)
		if !ok || m.Oracle == "" {
			return nil, fmt.Errorf("%w: chain %d has no Aave V3 market with an oracle in the registry", ErrConfig, id)
		}
		spec := chainSpecs[id]
		cs := &chainState{id: id, slug: spec.slug, clk: clock{spec.anchorN, spec.blockMs}, hash: hasher{cfg.Seed, id},
			pool: common.HexToAddress(m.Pool), oracle: common.HexToAddress(m.Oracle), dataProvider: common.HexToAddress(m.DataProvider), assets: assetsFor(id),
			byAddr: map[common.Address]*Asset{}, prices: prices, safeDepth: ch.Confirmations / 2,
			finalDepth: ch.Confirmations, gasLimit: spec.gasLimit, maxLogRange: cfg.MaxLogRange, maxLogResults: cfg.MaxLogResults,
			shiftBps: cfg.ReorgPriceShiftBps}
		cs.multicall3Block, cs.srv = spec.multicall3Block, &s.limits
		if b, ok := cfg.Multicall3Blocks[id]; ok {
			cs.multicall3Block = b
		}
		cs.calls = map[common.Address]*assetCalls{}
		for i := range cs.assets {
			cs.byAddr[cs.assets[i].Address] = &cs.assets[i]
			cs.calls[cs.assets[i].Address] = newAssetCalls(&cs.assets[i])
		}
		for i := range cs.miners {
			cs.miners[i] = derivedAddress(cfg.Seed, id, "miner", uint64(i))
		}
		cs.windowStart, cs.windowEnd = cs.clk.blockAt(cfg.From.Unix()), cs.clk.blockAt(cfg.To.Unix())
		cs.head.Store(cs.windowEnd + HeadMargin)
		events, logs := generate(cfg, id, cs.pool, cs.assets, prices, days, counts[id])
		for i := range events {
			events[i].valueBonus(cs.byAddr[events[i].CollateralAsset])
		}
		var deficits []Deficit
		if cfg.DeficitShare > 0 {
			deficits, logs = addDeficits(cfg, id, events, logs)
		}
		cs.logs = logs
		truth.events[id] = events
		truth.deficits[id] = deficits
		truth.pools[id] = cs.pool
		s.chains[id] = cs
	}
	s.truth = truth
	return s, nil
}

// Chains returns the simulated chain ids in configuration order.
func (s *Sim) Chains() []uint64 { return slices.Clone(s.order) }

// Truth returns the ground truth of the whole window.
func (s *Sim) Truth() *Truth { return s.truth }

// Head returns a chain's head block number, 0 for an unknown chain.
func (s *Sim) Head(chainID uint64) uint64 {
	if c := s.chains[chainID]; c != nil {
		return c.head.Load()
	}
	return 0
}

// SetHead moves a chain's head: logs above it are not served and blocks above
// it do not exist yet. Unknown chains are ignored.
func (s *Sim) SetHead(chainID uint64, n uint64) {
	if c := s.chains[chainID]; c != nil {
		c.head.Store(n)
	}
}

// Safe and Finalized return the block numbers the "safe" and "finalized"
// tags resolve to at the current head.
func (s *Sim) Safe(chainID uint64) uint64 {
	return s.tag(chainID, func(c *chainState) uint64 { return c.safeDepth })
}

// Finalized returns the block number the "finalized" tag resolves to.
func (s *Sim) Finalized(chainID uint64) uint64 {
	return s.tag(chainID, func(c *chainState) uint64 { return c.finalDepth })
}

func (s *Sim) tag(chainID uint64, depth func(*chainState) uint64) uint64 {
	c := s.chains[chainID]
	if c == nil {
		return 0
	}
	return c.lag(depth(c))
}

// BlockAt returns the first block of a chain whose timestamp is >= t.
func (s *Sim) BlockAt(chainID uint64, t time.Time) uint64 {
	if c := s.chains[chainID]; c != nil {
		sec := t.Unix()
		if t.Nanosecond() > 0 { // block timestamps are whole seconds
			sec++
		}
		return c.clk.blockAt(sec)
	}
	return 0
}

// BlockTime returns the timestamp of block n.
func (s *Sim) BlockTime(chainID uint64, n uint64) time.Time {
	if c := s.chains[chainID]; c != nil {
		return unixUTC(c.clk.time(n))
	}
	return time.Time{}
}

// BlockHash returns the hash of block n.
func (s *Sim) BlockHash(chainID uint64, n uint64) common.Hash {
	if c := s.chains[chainID]; c != nil {
		c.mu.RLock()
		defer c.mu.RUnlock()
		return c.blockHash(n)
	}
	return common.Hash{}
}

// Multicall3Block returns the first block at which a chain serves
// Multicall3 (Config.Multicall3Blocks or the real deployment block); 0 for
// an unknown chain.
func (s *Sim) Multicall3Block(chainID uint64) uint64 {
	if c := s.chains[chainID]; c != nil {
		return c.multicall3Block
	}
	return 0
}

// Pool and Oracle return the Aave V3 pool and oracle addresses of a chain.
func (s *Sim) Pool(chainID uint64) common.Address {
	if c := s.chains[chainID]; c != nil {
		return c.pool
	}
	return common.Address{}
}

// DataProvider returns the PoolDataProvider address of a chain's market.
func (s *Sim) DataProvider(chainID uint64) common.Address {
	if c := s.chains[chainID]; c != nil {
		return c.dataProvider
	}
	return common.Address{}
}

// Oracle returns the Aave V3 oracle address of a chain.
func (s *Sim) Oracle(chainID uint64) common.Address {
	if c := s.chains[chainID]; c != nil {
		return c.oracle
	}
	return common.Address{}
}

// Assets returns the tokens listed on a chain's market.
func (s *Sim) Assets(chainID uint64) []Asset {
	if c := s.chains[chainID]; c != nil {
		return slices.Clone(c.assets)
	}
	return nil
}

// PriceE8 returns the oracle price of asset at block n (USD, 8 decimals), the
// value eth_call getAssetPrice returns; false for an unknown chain or asset.
func (s *Sim) PriceE8(chainID uint64, asset common.Address, n uint64) (*big.Int, bool) {
	c := s.chains[chainID]
	if c == nil {
		return nil, false
	}
	a := c.byAddr[asset]
	if a == nil {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.priceAt(a, n), true
}

// priceAt is the oracle price of a at block n: the price path at the block's
// time, shifted in reorged blocks by Config.ReorgPriceShiftBps per branch
// generation. The caller holds c.mu.
func (c *chainState) priceAt(a *Asset, n uint64) *big.Int {
	p := c.prices.price(a, c.clk.time(n))
	if g := c.gens[n]; g > 0 && c.shiftBps > 0 {
		p.Mul(p, big.NewInt(10_000+c.shiftBps*int64(g)))
		p.Quo(p, big.NewInt(10_000))
	}
	return p
}

// Serve listens on addr (e.g. "127.0.0.1:0") and serves Handler until ctx is
// cancelled. It returns the base URL, e.g. "http://127.0.0.1:40123"; chain
// endpoints are "<url>/<slug>" and "<url>/<chain id>".
func (s *Sim) Serve(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = ln.Close()
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// lag returns head - depth, floored at 0.
func (c *chainState) lag(depth uint64) uint64 {
	h := c.head.Load()
	if h < depth {
		return 0
	}
	return h - depth
}
