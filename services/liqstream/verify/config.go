package verify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/secret"
)

// Sentinels wrapped by the errors of this package; test with errors.Is.
var (
	// ErrConfig: a Config field is invalid; the message names its key.
	ErrConfig = errors.New("invalid verify config")
	// ErrRange: the range resolves to no blocks or is not on chain yet.
	ErrRange = errors.New("invalid block range")
	// ErrRPC: the JSON-RPC endpoint is unreachable or failed.
	ErrRPC = errors.New("chain RPC failed")
	// ErrClickHouse: ClickHouse is unreachable, lacks the schema or failed.
	ErrClickHouse = errors.New("ClickHouse failed")
)

// Config says what to verify and where to read it.
type Config struct {
	// Chain is a slug ("polygon") or chain id ("137") from lib/chains.
	Chain string `yaml:"chain"`
	// RPCURL is the JSON-RPC endpoint; only printed redacted.
	RPCURL secret.URL `yaml:"rpc_url"`
	// From and To bound the range [From, To): block numbers, UTC dates
	// ("2026-01-01") or RFC3339 times, resolved as ingest resolves them.
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// Market is a market name from the registry (e.g. "AaveV3Polygon"); empty
	// takes the chain's primary Aave V3 market.
	Market string `yaml:"market"`
	// Pool overrides the market's pool address.
	Pool string `yaml:"pool"`
	// LogRange is the block span of one eth_getLogs request; 0 takes the
	// chain's MaxLogRange. A request the node refuses is halved.
	LogRange uint64 `yaml:"log_range"`
	// Concurrency is how many eth_getLogs ranges are in flight (default 4).
	Concurrency int `yaml:"concurrency"`
	// ProgressInterval is how often progress is logged (default 5s).
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// ClickHouse is where the liqstream tables are.
	ClickHouse store.Config `yaml:"clickhouse"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Concurrency: 4, ProgressInterval: 5 * time.Second, ClickHouse: store.DefaultConfig()}
}

func errf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// Validate reports the first invalid field, naming its key. An unknown chain
// also wraps chains.ErrUnknownChain and lists the valid chains.
func (c Config) Validate() error {
	reg := chains.Default()
	if strings.TrimSpace(c.Chain) == "" {
		return errf("chain: required (one of %s)", strings.Join(reg.Slugs(), ", "))
	}
	ch, err := reg.Lookup(c.Chain)
	if err != nil {
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
	if c.To == "" {
		return errf("to: required (block number, date 2026-01-01 or RFC3339 time; the range is [from, to))")
	}
	fb, ft, fIsBlock, err := ingest.ParseBound(c.From)
	if err != nil {
		return errf("from: %v", err)
	}
	tb, tt, tIsBlock, err := ingest.ParseBound(c.To)
	if err != nil {
		return errf("to: %v", err)
	}
	if fIsBlock == tIsBlock && ((fIsBlock && tb <= fb) || (!fIsBlock && !tt.After(ft))) {
		return errf("to: %q is not after from %q: the range [from, to) is empty", c.To, c.From)
	}
	if c.Market != "" {
		m, ok := reg.Market(c.Market)
		if !ok || m.ChainID != ch.ID {
			var names []string
			for _, m := range reg.Markets(ch.ID, "") {
				names = append(names, m.Name)
			}
			return errf("market: %q is not a market on %s (markets there: %s)", c.Market, ch.Slug, strings.Join(names, ", "))
		}
	}
	if c.Pool != "" && !common.IsHexAddress(c.Pool) {
		return errf("pool: %q is not a hex address", c.Pool)
	}
	if _, ok := reg.PrimaryV3Market(ch.ID); !ok && c.Market == "" && c.Pool == "" {
		return errf("market: chain %s has no Aave V3 market in the registry; set market or pool", ch.Slug)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		return errf("concurrency: must be 1..64, got %d", c.Concurrency)
	}
	if c.ProgressInterval <= 0 {
		return errf("progress_interval: must be positive, got %s", c.ProgressInterval)
	}
	if err := c.ClickHouse.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// target is a validated config with registry defaults applied.
type target struct {
	chain    chains.Chain
	market   string
	pool     common.Address
	logRange uint64
}

func (c Config) resolve() (target, error) {
	if err := c.Validate(); err != nil {
		return target{}, err
	}
	reg := chains.Default()
	ch, _ := reg.Lookup(c.Chain)
	m, _ := reg.PrimaryV3Market(ch.ID)
	if c.Market != "" {
		m, _ = reg.Market(c.Market)
	}
	t := target{chain: ch, market: m.Name, pool: common.HexToAddress(m.Pool), logRange: ch.MaxLogRange}
	if c.Pool != "" {
		t.pool = common.HexToAddress(c.Pool)
		if !strings.EqualFold(c.Pool, m.Pool) {
			t.market = "custom-" + ch.Slug
		}
	}
	if c.LogRange > 0 {
		t.logRange = c.LogRange
	}
	if t.logRange == 0 {
		t.logRange = 2000
	}
	return t, nil
}
