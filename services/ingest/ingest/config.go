package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/ingest/protocol"
	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/ingest/rpc"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("invalid ingest config")

// Config configures one chain's ingest process. Zero values of optional
// fields take the defaults documented on each field (DefaultConfig).
type Config struct {
	// Chain is a slug ("polygon") or chain id ("137") from lib/chains.
	Chain string `yaml:"chain"`
	// RPCURL is the JSON-RPC endpoint; it may hold an API key and is only
	// printed redacted.
	RPCURL secret.URL `yaml:"rpc_url"`
	// RPCURLs are more endpoints of the same chain, tried in order after
	// rpc_url with failover and demotion (see package rpc). Either key alone
	// is enough.
	RPCURLs []secret.URL `yaml:"rpc_urls"`
	// RPC holds the endpoint-pool tunables, as top-level keys: rate_limit,
	// log_range_grow_after, rpc_max_attempts, rpc_backoff, rpc_max_backoff,
	// rpc_timeout, rpc_batch_size, rpc_lag_blocks, rpc_lag_for,
	// rpc_fail_threshold, rpc_fail_window, rpc_demote_for,
	// rpc_head_probe_interval, rpc_max_response_bytes,
	// rpc_max_logs_per_response. Defaults: rpc.DefaultPolicy.
	RPC rpc.Policy `yaml:",inline"`
	// From is the first block of the window: a block number, a UTC date
	// ("2026-01-01") or an RFC3339 time. Required.
	From string `yaml:"from"`
	// To ends the window, exclusive, in the same forms. Empty: the safe head
	// when the run starts (or forever with follow).
	To string `yaml:"to"`
	// Follow keeps ingesting new safe blocks after the backfill. Not allowed
	// with To.
	Follow bool `yaml:"follow"`
	// Confirmations is how far behind the head ingest stays; -1 (default)
	// takes the chain's value from lib/chains.
	Confirmations int64 `yaml:"confirmations"`
	// PollInterval is how often follow mode polls the head (default 250ms).
	// A poll is one eth_blockNumber; the finalized block is read only when
	// the head moved. Events reach the rollups about a poll interval plus
	// the aggregator's batch.max_wait after their block is safe; raise it
	// on a rate-limited endpoint.
	PollInterval time.Duration `yaml:"poll_interval"`
	// LogRange is the block span of one eth_getLogs request; 0 (default)
	// takes the chain's MaxLogRange from lib/chains.
	LogRange uint64 `yaml:"log_range"`
	// Multicall3Block is the first block at which a block's eth_calls (prices,
	// reserve configuration) are sent as one Multicall3 aggregate3 call
	// (package multicall). -1 (default) takes the chain's Multicall3
	// deployment block from lib/chains; 0 turns Multicall3 off (every call
	// sent alone, still in one JSON-RPC batch), as does a chain without a
	// known deployment.
	Multicall3Block int64 `yaml:"multicall3_block"`
	// Concurrency is how many ranges are fetched in parallel (default 4).
	Concurrency int `yaml:"concurrency"`
	// ProgressInterval is how often progress is logged (default 5s).
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// MetricsAddr serves /metrics, /healthz and /readyz (used by cmd/ingest;
	// empty: off).
	MetricsAddr string `yaml:"metrics_addr"`
	// Health bounds readiness (/readyz): health.max_head_lag_blocks
	// (default twice the confirmation depth). See Ingester.Ready.
	Health HealthConfig `yaml:"health"`
	// Kafka configures the producer; kafka.topic_prefix is for tests only.
	Kafka publish.Config `yaml:"kafka"`
	// Market overrides the chain's primary Aave V3 market from lib/chains.
	Market MarketConfig `yaml:"market"`
	// Markets names the lib/chains markets of the chain to ingest, e.g.
	// [AaveV3Ethereum, AaveV2Ethereum, AaveV1Ethereum, SparkEthereum]; each
	// is decoded by its protocol's adapter (package protocol) and only logs
	// from these pools are ingested. Empty (default): the chain's primary
	// Aave V3 market only, as adjusted by `market` — older markets need an
	// archive node for their prices, so they are opt-in. Not combined with
	// market.pool or market.oracle.
	Markets []string `yaml:"markets"`
}

// MarketConfig names the lending market to ingest. Empty fields default to
// the chain's primary Aave V3 market.
type MarketConfig struct {
	Name   string `yaml:"name"`
	Pool   string `yaml:"pool"`
	Oracle string `yaml:"oracle"`
}

// DefaultConfig returns the defaults; a file and flags are applied over it.
func DefaultConfig() Config {
	return Config{
		Confirmations:    -1,
		Multicall3Block:  -1,
		PollInterval:     250 * time.Millisecond,
		Concurrency:      4,
		ProgressInterval: 5 * time.Second,
		Kafka:            publish.Config{Conn: kafkaconn.Conn{Brokers: []string{"127.0.0.1:9092"}}},
		RPC:              rpc.DefaultPolicy(),
	}
}

func errf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// Validate checks the config and names the key to fix. An unknown chain
// error also wraps chains.ErrUnknownChain and lists the valid chains.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Chain) == "" {
		return errf("chain: required (one of %s)", strings.Join(chains.Default().Slugs(), ", "))
	}
	if _, err := chains.Default().Lookup(c.Chain); err != nil {
		return fmt.Errorf("%w: chain: %w", ErrConfig, err)
	}
	if c.RPCURL == "" && len(c.RPCURLs) == 0 {
		return errf("rpc_url: required (or rpc_urls)")
	}
	if c.RPCURL != "" {
		if err := rpc.ValidateURL("rpc_url", c.RPCURL); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	for i, u := range c.RPCURLs {
		if err := rpc.ValidateURL(fmt.Sprintf("rpc_urls[%d]", i), u); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if err := c.RPC.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.From == "" {
		return errf("from: required (block number, date 2026-01-01 or RFC3339 time)")
	}
	from, err := parseBound(c.From)
	if err != nil {
		return errf("from: %v", err)
	}
	if c.To != "" {
		to, err := parseBound(c.To)
		if err != nil {
			return errf("to: %v", err)
		}
		if from.isBlock == to.isBlock && ((from.isBlock && to.block <= from.block) || (!from.isBlock && !to.t.After(from.t))) {
			return errf("to: %q is not after from %q (the window is [from, to))", c.To, c.From)
		}
		if c.Follow {
			return errf("follow: cannot be combined with to (follow runs without an end)")
		}
	}
	if c.Confirmations < -1 {
		return errf("confirmations: %d is negative (use -1 for the chain default)", c.Confirmations)
	}
	if c.Multicall3Block < -1 {
		return errf("multicall3_block: %d is negative (use -1 for the chain's Multicall3 deployment block, 0 for off)", c.Multicall3Block)
	}
	if c.PollInterval <= 0 {
		return errf("poll_interval: must be positive, got %s", c.PollInterval)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		return errf("concurrency: must be 1..64, got %d", c.Concurrency)
	}
	if c.ProgressInterval <= 0 {
		return errf("progress_interval: must be positive, got %s", c.ProgressInterval)
	}
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.Health.Validate(); err != nil {
		return err
	}
	for key, v := range map[string]string{"market.pool": c.Market.Pool, "market.oracle": c.Market.Oracle} {
		if v != "" && !common.IsHexAddress(v) {
			return errf("%s: %q is not a hex address", key, v)
		}
	}
	ch, _ := chains.Default().Lookup(c.Chain)
	if len(c.Markets) > 0 {
		if c.Market != (MarketConfig{}) {
			return errf("markets: cannot be combined with market.name/pool/oracle; list registry markets or override one market, not both")
		}
		seen := map[string]bool{}
		for i, name := range c.Markets {
			m, ok := chains.Default().Market(name)
			if !ok || m.ChainID != ch.ID {
				var names []string
				for _, m := range chains.Default().Markets(ch.ID, "") {
					names = append(names, m.Name)
				}
				return errf("markets[%d]: %q is not a market on %s (markets there: %s)", i, name, ch.Slug, strings.Join(names, ", "))
			}
			if _, err := protocol.ForProtocol(m.Protocol); err != nil {
				return errf("markets[%d]: %v", i, err)
			}
			if seen[name] {
				return errf("markets[%d]: %q listed twice", i, name)
			}
			seen[name] = true
		}
		return nil
	}
	if _, ok := chains.Default().PrimaryV3Market(ch.ID); !ok && (c.Market.Pool == "" || c.Market.Oracle == "") {
		return errf("market: chain %s has no Aave V3 market in the registry; set market.pool and market.oracle", ch.Slug)
	}
	return nil
}

// bound is a parsed from/to value: a block number or a time.
type bound struct {
	isBlock bool
	block   uint64
	t       time.Time
}

func parseBound(s string) (bound, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return bound{isBlock: true, block: n}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return bound{t: t.UTC()}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return bound{t: t.UTC()}, nil
	}
	return bound{}, fmt.Errorf("%q is neither a block number, a date (2026-01-01) nor an RFC3339 time", s)
}

// resolved is a validated config with registry defaults applied.
type resolved struct {
	chain         chains.Chain
	market        chains.Market
	pool, oracle  common.Address
	confirmations uint64
	logRange      uint64
	// multicall3 is the first block of Multicall3 batching, 0 for off.
	multicall3 uint64
	from, to   bound
	hasTo      bool
	// markets are the ingested markets; market, pool and oracle above are
	// the first of them.
	markets []protocol.Market
	set     *protocol.Set
}

func (c Config) resolve() (resolved, error) {
	if err := c.Validate(); err != nil {
		return resolved{}, err
	}
	reg := chains.Default()
	ch, _ := reg.Lookup(c.Chain)
	m, _ := reg.PrimaryV3Market(ch.ID)
	if c.Market.Name != "" {
		m.Name = c.Market.Name
	}
	if c.Market.Pool != "" {
		m.Pool = strings.ToLower(c.Market.Pool)
	}
	if c.Market.Oracle != "" {
		m.Oracle = strings.ToLower(c.Market.Oracle)
	}
	if m.Protocol == "" {
		m.Protocol = "aave-v3"
	}
	if m.Name == "" {
		m.Name = "custom-" + ch.Slug
	}
	if !common.IsHexAddress(m.Oracle) {
		return resolved{}, errf("market.oracle: the registry has no oracle for %s; set it", m.Name)
	}
	r := resolved{chain: ch, market: m, pool: common.HexToAddress(m.Pool), oracle: common.HexToAddress(m.Oracle),
		confirmations: ch.Confirmations, logRange: ch.MaxLogRange, multicall3: ch.Multicall3Block}
	var err error
	if r.markets, r.set, err = c.resolveMarkets(reg, m); err != nil {
		return resolved{}, err
	}
	if len(c.Markets) > 0 {
		r.market, _ = reg.Market(c.Markets[0])
		r.pool, r.oracle = r.markets[0].Pool, r.markets[0].Oracle
	}
	if c.Confirmations >= 0 {
		r.confirmations = uint64(c.Confirmations)
	}
	if c.LogRange > 0 {
		r.logRange = c.LogRange
	}
	if c.Multicall3Block >= 0 {
		r.multicall3 = uint64(c.Multicall3Block)
	}
	if r.logRange == 0 {
		r.logRange = 2000
	}
	r.from, _ = parseBound(c.From)
	if c.To != "" {
		r.to, _ = parseBound(c.To)
		r.hasTo = true
	}
	return r, nil
}

// resolveMarkets builds the ingested markets: the `markets` list from the
// registry, or the single (possibly overridden) primary market m. Every
// market needs an oracle.
func (c Config) resolveMarkets(reg *chains.Registry, m chains.Market) ([]protocol.Market, *protocol.Set, error) {
	regs := []chains.Market{m}
	if len(c.Markets) > 0 {
		regs = regs[:0]
		for _, name := range c.Markets {
			rm, _ := reg.Market(name)
			regs = append(regs, rm)
		}
	}
	var out []protocol.Market
	for i, rm := range regs {
		pm, err := protocol.FromRegistry(rm)
		if err != nil {
			return nil, nil, errf("markets[%d]: %v", i, err)
		}
		if pm.Oracle == (common.Address{}) {
			return nil, nil, errf("markets[%d]: the registry has no oracle for %s", i, rm.Name)
		}
		out = append(out, pm)
	}
	set, err := protocol.NewSet(out)
	if err != nil {
		return nil, nil, errf("markets: %v", err)
	}
	return out, set, nil
}
