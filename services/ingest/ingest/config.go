package ingest

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/ingest/publish"
	"github.com/liqstream/liqstream/services/lib/chains"
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
	// PollInterval is how often follow mode polls the head (default 2s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// LogRange is the block span of one eth_getLogs request; 0 (default)
	// takes the chain's MaxLogRange from lib/chains.
	LogRange uint64 `yaml:"log_range"`
	// Concurrency is how many ranges are fetched in parallel (default 4).
	Concurrency int `yaml:"concurrency"`
	// ProgressInterval is how often progress is logged (default 5s).
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// MetricsAddr serves /metrics (used by cmd/ingest; empty: off).
	MetricsAddr string `yaml:"metrics_addr"`
	// Kafka configures the producer; kafka.topic_prefix is for tests only.
	Kafka publish.Config `yaml:"kafka"`
	// Market overrides the chain's primary Aave V3 market from lib/chains.
	Market MarketConfig `yaml:"market"`
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
		PollInterval:     2 * time.Second,
		Concurrency:      4,
		ProgressInterval: 5 * time.Second,
		Kafka:            publish.Config{Brokers: []string{"127.0.0.1:9092"}},
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
	if c.RPCURL == "" {
		return errf("rpc_url: required")
	}
	if u, err := url.Parse(c.RPCURL.Reveal()); err != nil || u.Host == "" ||
		(u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
		return errf("rpc_url: %s is not an http(s) or ws(s) URL", c.RPCURL)
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
	for key, v := range map[string]string{"market.pool": c.Market.Pool, "market.oracle": c.Market.Oracle} {
		if v != "" && !common.IsHexAddress(v) {
			return errf("%s: %q is not a hex address", key, v)
		}
	}
	ch, _ := chains.Default().Lookup(c.Chain)
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
	from, to      bound
	hasTo         bool
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
		confirmations: ch.Confirmations, logRange: ch.MaxLogRange}
	if c.Confirmations >= 0 {
		r.confirmations = uint64(c.Confirmations)
	}
	if c.LogRange > 0 {
		r.logRange = c.LogRange
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
