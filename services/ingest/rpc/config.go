package rpc

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// ErrConfig is wrapped by every Validate error of this package.
var ErrConfig = errors.New("invalid rpc config")

// Policy holds the tunables of the endpoint pool: retries, rate limit,
// eth_getLogs range adaptation and endpoint demotion. ingest inlines it in
// its YAML config, so the yaml keys below are top-level ingest keys. A zero
// field takes the default documented on it (see DefaultPolicy).
type Policy struct {
	// RateLimit is the most requests per second sent to each endpoint (a
	// token bucket with a burst of max(1, rate_limit)); 0 (default) is no
	// limit. A JSON-RPC batch counts as one request, as providers bill it.
	RateLimit float64 `yaml:"rate_limit"`
	// MaxAttempts bounds the tries of one request over all endpoints
	// (default 8).
	MaxAttempts int `yaml:"rpc_max_attempts"`
	// BaseBackoff is the first retry delay of an endpoint, doubled per
	// consecutive failure up to MaxBackoff, with jitter (default 100ms).
	BaseBackoff time.Duration `yaml:"rpc_backoff"`
	// MaxBackoff caps the backoff and a Retry-After answer (default 30s).
	MaxBackoff time.Duration `yaml:"rpc_max_backoff"`
	// RequestTimeout bounds one attempt (default 30s).
	RequestTimeout time.Duration `yaml:"rpc_timeout"`
	// BatchSize is the most requests sent in one JSON-RPC batch (default 100).
	BatchSize int `yaml:"rpc_batch_size"`
	// LogRangeGrowAfter is how many eth_getLogs successes in a row double a
	// range that a provider limit had shrunk, up to log_range (default 10).
	LogRangeGrowAfter int `yaml:"log_range_grow_after"`
	// LagBlocks and LagFor: an endpoint whose head stays more than LagBlocks
	// behind the best endpoint's head for LagFor is demoted (defaults 50
	// blocks, 30s).
	LagBlocks uint64        `yaml:"rpc_lag_blocks"`
	LagFor    time.Duration `yaml:"rpc_lag_for"`
	// FailThreshold and FailWindow: an endpoint that failed FailThreshold of
	// its last FailWindow calls is demoted (defaults 5 of 20).
	FailThreshold int `yaml:"rpc_fail_threshold"`
	FailWindow    int `yaml:"rpc_fail_window"`
	// DemoteFor is how long a demoted endpoint is avoided before it is tried
	// again (default 60s). A demoted endpoint is still used when every
	// endpoint is demoted.
	DemoteFor time.Duration `yaml:"rpc_demote_for"`
	// HeadProbeInterval is how often every endpoint's head is polled to
	// detect lag (default 10s).
	HeadProbeInterval time.Duration `yaml:"rpc_head_probe_interval"`
	// Limits bound the answers read: rpc_max_response_bytes,
	// rpc_max_logs_per_response (see Limits).
	Limits `yaml:",inline"`
}

// DefaultPolicy returns the documented defaults.
func DefaultPolicy() Policy {
	return Policy{
		MaxAttempts:       8,
		BaseBackoff:       100 * time.Millisecond,
		MaxBackoff:        30 * time.Second,
		RequestTimeout:    30 * time.Second,
		BatchSize:         100,
		LogRangeGrowAfter: 10,
		LagBlocks:         50,
		LagFor:            30 * time.Second,
		FailThreshold:     5,
		FailWindow:        20,
		DemoteFor:         60 * time.Second,
		HeadProbeInterval: 10 * time.Second,
		Limits:            DefaultLimits(),
	}
}

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseBackoff == 0 {
		p.BaseBackoff = d.BaseBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.RequestTimeout == 0 {
		p.RequestTimeout = d.RequestTimeout
	}
	if p.BatchSize == 0 {
		p.BatchSize = d.BatchSize
	}
	if p.LogRangeGrowAfter == 0 {
		p.LogRangeGrowAfter = d.LogRangeGrowAfter
	}
	if p.LagBlocks == 0 {
		p.LagBlocks = d.LagBlocks
	}
	if p.LagFor == 0 {
		p.LagFor = d.LagFor
	}
	if p.FailThreshold == 0 {
		p.FailThreshold = d.FailThreshold
	}
	if p.FailWindow == 0 {
		p.FailWindow = d.FailWindow
	}
	if p.DemoteFor == 0 {
		p.DemoteFor = d.DemoteFor
	}
	if p.HeadProbeInterval == 0 {
		p.HeadProbeInterval = d.HeadProbeInterval
	}
	p.Limits = p.Limits.withDefaults()
	return p
}

func cfgErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// Validate checks p (zero fields mean defaults) and names the key to fix.
func (p Policy) Validate() error {
	switch {
	case p.RateLimit < 0:
		return cfgErr("rate_limit: %v is negative (0 means no limit)", p.RateLimit)
	case p.MaxAttempts < 0 || p.MaxAttempts > 100:
		return cfgErr("rpc_max_attempts: must be 1..100, got %d", p.MaxAttempts)
	case p.BaseBackoff < 0:
		return cfgErr("rpc_backoff: %s is negative", p.BaseBackoff)
	case p.MaxBackoff < 0:
		return cfgErr("rpc_max_backoff: %s is negative", p.MaxBackoff)
	case p.RequestTimeout < 0:
		return cfgErr("rpc_timeout: %s is negative", p.RequestTimeout)
	case p.BatchSize < 0 || p.BatchSize > 10_000:
		return cfgErr("rpc_batch_size: must be 1..10000, got %d", p.BatchSize)
	case p.LogRangeGrowAfter < 0:
		return cfgErr("log_range_grow_after: %d is negative", p.LogRangeGrowAfter)
	case p.LagFor < 0:
		return cfgErr("rpc_lag_for: %s is negative", p.LagFor)
	case p.FailThreshold < 0:
		return cfgErr("rpc_fail_threshold: %d is negative", p.FailThreshold)
	case p.FailWindow < 0:
		return cfgErr("rpc_fail_window: %d is negative", p.FailWindow)
	case p.DemoteFor < 0:
		return cfgErr("rpc_demote_for: %s is negative", p.DemoteFor)
	case p.HeadProbeInterval < 0:
		return cfgErr("rpc_head_probe_interval: %s is negative", p.HeadProbeInterval)
	}
	if err := p.Limits.validate(); err != nil {
		return err
	}
	d := p.WithDefaults()
	if d.FailThreshold > d.FailWindow {
		return cfgErr("rpc_fail_threshold: %d is larger than rpc_fail_window %d", d.FailThreshold, d.FailWindow)
	}
	return nil
}

// Config configures a Client.
type Config struct {
	// URLs are the chain's JSON-RPC endpoints (http, https, ws or wss), in
	// order of preference. URL, when set, is the first one (the single
	// rpc_url of older configs).
	URLs []secret.URL
	URL  secret.URL
	// ChainID is the chain every endpoint must serve; Chain its slug for
	// errors and logs.
	ChainID uint64
	Chain   string
	// MaxLogRange is the first and largest block span of one eth_getLogs
	// request (default 2,000). Provider limits shrink it; successes grow it
	// back (Policy.LogRangeGrowAfter).
	MaxLogRange uint64
	// HeaderCacheSize bounds cached headers (default 200,000).
	HeaderCacheSize int
	// Seed seeds the backoff jitter; 0 seeds from the clock. Tests set it.
	Seed int64
	// TracerProvider traces Logs (SpanGetLogs); nil takes
	// telemetry.ProviderOrDefault(nil), no-op unless tracing is on.
	TracerProvider trace.TracerProvider
	Policy
}

// urls returns URL followed by URLs, without duplicates.
func (c Config) urls() []secret.URL {
	var out []secret.URL
	seen := map[secret.URL]bool{}
	for _, u := range append([]secret.URL{c.URL}, c.URLs...) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// ValidateURL checks that u is an http(s) or ws(s) URL with a host. key names
// the config key in the error; the error prints u redacted.
func ValidateURL(key string, u secret.URL) error {
	p, err := url.Parse(u.Reveal())
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https" && p.Scheme != "ws" && p.Scheme != "wss") {
		return cfgErr("%s: %s is not an http(s) or ws(s) URL", key, u)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Policy = c.Policy.WithDefaults()
	if c.HeaderCacheSize <= 0 {
		c.HeaderCacheSize = 200_000
	}
	if c.MaxLogRange == 0 {
		c.MaxLogRange = 2_000
	}
	if c.Chain == "" {
		c.Chain = fmt.Sprint(c.ChainID)
	}
	return c
}
