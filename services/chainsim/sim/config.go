package sim

import (
	"errors"
	"fmt"
	"time"
)

// DefaultWindow returns the default simulated window [from, to):
// 2026-01-01T00:00:00Z to 2026-03-01T00:00:00Z.
func DefaultWindow() (from, to time.Time) {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
}

// DefaultChains returns the chain ids simulated when Config.Chains is empty:
// Ethereum, Polygon, Avalanche, Arbitrum and Base.
func DefaultChains() []uint64 { return []uint64{1, 137, 43114, 42161, 8453} }

// ErrConfig is returned (wrapped) by New for an invalid Config; the message
// names the field to fix.
var ErrConfig = errors.New("invalid chainsim config")

// HeadMargin is how many blocks past the end of the window the default head
// sits, so every event of the window is below the finalized tag.
const HeadMargin = 300

// Config configures a Sim. The zero value is the demo: seed 0, scale 1, the
// default window and the five default chains.
type Config struct {
	// Seed drives all randomness: two Sims with the same Config are identical.
	Seed int64 `yaml:"seed"`
	// Scale multiplies event volumes; 1.0 (also used when 0) is the demo size,
	// about 33k liquidations over the default window. Tests use 0.1.
	Scale float64 `yaml:"scale"`
	// From and To bound the simulated window [From, To), UTC. Zero values
	// default to 2026-01-01 and 2026-03-01.
	From time.Time `yaml:"from"`
	To   time.Time `yaml:"to"`
	// Chains lists the simulated chain ids; empty means DefaultChains.
	Chains []uint64 `yaml:"chains"`
	// MaxLogRange caps the block range of one eth_getLogs request (toBlock -
	// fromBlock + 1) like a hosted provider does; 0 means no cap.
	MaxLogRange uint64 `yaml:"max_log_range"`
	// MaxLogResults caps the number of logs one eth_getLogs request may
	// return; 0 means no cap. Over the cap the error suggests a smaller range,
	// as Infura's does.
	MaxLogResults int `yaml:"max_log_results"`
	// OmitLogBlockTimestamp leaves blockTimestamp out of served logs, as
	// older nodes and some providers do. By default every log object of
	// eth_getLogs carries it (the block's timestamp as a hex quantity), as
	// current geth, reth and erigon serve it. To drop it for one simulated
	// provider only, use the omit_log_block_timestamp fault (package faults).
	OmitLogBlockTimestamp bool `yaml:"omit_log_block_timestamp"`
	// DeficitShare is the share of liquidations (0..1) followed by bad debt:
	// a DeficitCreated log placed in a free log index just before the
	// LiquidationCall, as Aave V3.3 emits it. 0 (default) emits none, and
	// every other log and the liquidation truth are the same for any value.
	DeficitShare float64 `yaml:"deficit_share"`
	// ReorgPriceShiftBps shifts the oracle's answers in reorged blocks by
	// this many basis points per branch generation, as when an oracle update
	// lands in the new branch: events that stay in their block change value
	// and must be re-priced. 0 (default) keeps prices a function of block
	// time only, on every branch.
	ReorgPriceShiftBps int64 `yaml:"reorg_price_shift_bps"`
	// Multicall3Blocks sets, per chain id, the block from which Multicall3
	// (aggregate3 at 0xcA11bde05977b3631167028862bE2a173976CA11) is served;
	// below it the address has no code and eth_call returns "0x". Chains
	// not listed use their real deployment block (DefaultMulticall3Block).
	Multicall3Blocks map[uint64]uint64 `yaml:"multicall3_blocks"`
	// MaxRequestBytes is the largest JSON-RPC request body served (default
	// 8 MiB, DefaultMaxRequestBytes); a larger one is answered with HTTP 413
	// and a JSON-RPC error, and counted in ServerStats.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
}

// withDefaults returns cfg with zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Scale == 0 {
		cfg.Scale = 1
	}
	from, to := DefaultWindow()
	if cfg.From.IsZero() {
		cfg.From = from
	}
	if cfg.To.IsZero() {
		cfg.To = to
	}
	cfg.From, cfg.To = cfg.From.UTC(), cfg.To.UTC()
	if len(cfg.Chains) == 0 {
		cfg.Chains = DefaultChains()
	} else {
		cfg.Chains = append([]uint64(nil), cfg.Chains...)
	}
	return cfg
}

// Validate reports the first invalid field of a defaulted Config.
func (cfg Config) Validate() error {
	if cfg.Scale < 0 || cfg.Scale > 100 {
		return fmt.Errorf("%w: scale %v: must be in (0, 100]", ErrConfig, cfg.Scale)
	}
	if !cfg.To.After(cfg.From) {
		return fmt.Errorf("%w: to (%s) must be after from (%s)", ErrConfig, cfg.To.Format(time.RFC3339), cfg.From.Format(time.RFC3339))
	}
	if cfg.To.Sub(cfg.From) > 400*24*time.Hour {
		return fmt.Errorf("%w: window from %s to %s is longer than 400 days", ErrConfig, cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339))
	}
	if cfg.ReorgPriceShiftBps < 0 || cfg.ReorgPriceShiftBps > 1000 {
		return fmt.Errorf("%w: reorg_price_shift_bps %d: must be in [0, 1000]", ErrConfig, cfg.ReorgPriceShiftBps)
	}
	if cfg.DeficitShare < 0 || cfg.DeficitShare > 1 {
		return fmt.Errorf("%w: deficit_share %v: must be in [0, 1]", ErrConfig, cfg.DeficitShare)
	}
	if cfg.MaxRequestBytes < 0 {
		return fmt.Errorf("%w: max_request_bytes %d: must be > 0 (0 takes the default %d)", ErrConfig, cfg.MaxRequestBytes, DefaultMaxRequestBytes)
	}
	if cfg.MaxLogResults < 0 {
		return fmt.Errorf("%w: max_log_results %d: must be >= 0", ErrConfig, cfg.MaxLogResults)
	}
	for id := range cfg.Multicall3Blocks {
		if _, ok := chainSpecs[id]; !ok {
			return fmt.Errorf("%w: multicall3_blocks: chain id %d is not simulated (use 1, 137, 43114, 42161, 8453)", ErrConfig, id)
		}
	}
	seen := map[uint64]bool{}
	for _, id := range cfg.Chains {
		if _, ok := chainSpecs[id]; !ok {
			return fmt.Errorf("%w: chains: chain id %d is not simulated (use 1, 137, 43114, 42161, 8453)", ErrConfig, id)
		}
		if seen[id] {
			return fmt.Errorf("%w: chains: chain id %d listed twice", ErrConfig, id)
		}
		seen[id] = true
	}
	return nil
}

// logTimestamps reports whether served logs carry blockTimestamp.
func (cfg Config) logTimestamps() bool { return !cfg.OmitLogBlockTimestamp }
