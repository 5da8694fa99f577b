package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// Header is the part of a block header ingest uses.
type Header struct {
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Time       uint64 // unix seconds
}

// Call is one eth_call: Data sent to To at block Block.
type Call struct {
	To    common.Address
	Data  []byte
	Block uint64
}

// CallResult is the outcome of one Call: its return data or its own error
// (a revert affects only that call, not the batch).
type CallResult struct {
	Data []byte
	Err  error
}

// Client talks to one chain through a pool of endpoints. It is safe for
// concurrent use.
type Client struct {
	cfg       Config
	log       *slog.Logger
	endpoints []*endpoint
	requests  metric.Int64Counter
	duration  metric.Float64Histogram
	demotions metric.Int64Counter
	tracer    trace.Tracer // trace.go
	health    poolHealth   // health.go
	lim       limitState

	// now and sleep are the clock; tests replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	rngMu sync.Mutex
	rng   *rand.Rand

	// span is the current eth_getLogs block span; spanOK counts successes
	// since the last change.
	span   atomic.Uint64
	spanOK atomic.Int64
	// spanCap is the lowest fixed block cap a provider stated (0: none);
	// growth stops there.
	spanCap atomic.Uint64

	probeMu   sync.Mutex
	lastProbe time.Time

	mu      sync.Mutex
	headers map[uint64]Header
}

// New builds a pool over cfg's endpoints, checks that each serves
// cfg.ChainID and reads their heads. An endpoint that does not answer is
// demoted (and New fails only when none answers); one that serves another
// chain fails New. meter may be nil.
func New(ctx context.Context, cfg Config, log *slog.Logger, meter metric.Meter) (*Client, error) {
	return newClient(ctx, cfg, log, meter, nil)
}

// newClient is New with an optional clock for tests.
func newClient(ctx context.Context, cfg Config, log *slog.Logger, meter metric.Meter, now func() time.Time) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	urls := cfg.urls()
	if len(urls) == 0 {
		return nil, cfgErr("rpc_url or rpc_urls: required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	if now == nil {
		now = time.Now
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	c := &Client{cfg: cfg, log: log, now: now, sleep: sleepCtx, headers: map[uint64]Header{},
		rng: newRand(seed)}
	c.span.Store(cfg.MaxLogRange)
	c.tracer, _ = telemetry.Tracer(cfg.TracerProvider, "liqstream/ingest/rpc")
	var err error
	if c.requests, err = meter.Int64Counter("rpc_requests",
		metric.WithDescription("JSON-RPC requests (a batch counts once) by method, endpoint host and outcome")); err != nil {
		return nil, fmt.Errorf("creating rpc_requests counter: %w", err)
	}
	if c.duration, err = meter.Float64Histogram("rpc_request_duration", metric.WithUnit("s"),
		metric.WithDescription("duration of one JSON-RPC attempt (a batch counts once) by method, endpoint host and outcome"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...)); err != nil {
		return nil, fmt.Errorf("creating rpc_request_duration histogram: %w", err)
	}
	if c.demotions, err = meter.Int64Counter("rpc_endpoint_demotions",
		metric.WithDescription("endpoints demoted by reason (lag, failures)")); err != nil {
		return nil, fmt.Errorf("creating rpc_endpoint_demotions counter: %w", err)
	}
	if err = c.lim.init(meter); err != nil {
		return nil, err
	}
	for i, u := range urls {
		if err := ValidateURL("rpc_urls", u); err != nil {
			c.Close()
			return nil, err
		}
		var t transport
		pu, _ := url.Parse(u.Reveal())
		if pu.Scheme == "ws" || pu.Scheme == "wss" {
			gc, err := gethrpc.DialOptions(ctx, u.Reveal(), gethrpc.WithWebsocketMessageSizeLimit(cfg.MaxResponseBytes))
			if err != nil {
				c.Close()
				return nil, c.wrap("dial", 0, 0, nil, 1, fmt.Errorf("dialing %s: %w", u, err))
			}
			t = &wsTransport{c: gc}
		} else {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			t = &httpTransport{url: u.Reveal(), client: &http.Client{Transport: tr}, now: c.now, maxBytes: cfg.MaxResponseBytes}
		}
		c.endpoints = append(c.endpoints, newEndpoint(i, u, t, cfg.Policy))
	}
	answered := 0
	var firstErr error
	for _, ep := range c.endpoints {
		id, err := c.chainIDOf(ctx, ep)
		if err == nil && id != cfg.ChainID {
			err = c.wrap("eth_chainId", 0, 0, ep, 1, fmt.Errorf("%w: endpoint chain id %d, configured %d (%s); fix rpc_url/rpc_urls or chain",
				ErrChainMismatch, id, cfg.ChainID, cfg.Chain))
		}
		if errors.Is(err, ErrChainMismatch) || ctx.Err() != nil {
			c.Close()
			return nil, err
		}
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			ep.mu.Lock()
			ep.demotedUntil = c.now().Add(cfg.DemoteFor)
			ep.mu.Unlock()
			c.log.Warn("rpc endpoint unavailable at start, demoted", "chain", cfg.Chain, "endpoint", ep.name, "err", err)
			continue
		}
		answered++
	}
	if answered == 0 {
		c.Close()
		return nil, firstErr
	}
	if _, err := c.Head(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)) }

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close releases the endpoints' connections.
func (c *Client) Close() {
	for _, ep := range c.endpoints {
		ep.t.close()
	}
}

// Endpoints returns the endpoints' redacted URLs, in order of preference.
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.endpoints))
	for i, ep := range c.endpoints {
		out[i] = ep.name
	}
	return out
}

// LogSpan returns the current eth_getLogs block span: Config.MaxLogRange
// until a provider refuses a range, then what the refusal suggested, grown
// back by doubling after Policy.LogRangeGrowAfter successes.
func (c *Client) LogSpan() uint64 { return c.span.Load() }

// scrub hides every endpoint URL (and its path and query, which may hold the
// key) inside err's text, keeping errors.Is/As working.
func (c *Client) scrub(err error) error {
	msg := err.Error()
	out := msg
	for _, ep := range c.endpoints {
		for _, r := range ep.fullMask {
			if len(r) > 1 {
				out = strings.ReplaceAll(out, r, ep.name)
			}
		}
		for _, r := range ep.keyMask {
			out = strings.ReplaceAll(out, r, secret.Redacted)
		}
	}
	if out == msg {
		return err
	}
	return &scrubbed{err: err, msg: out}
}

// scrubbed hides the raw URL inside a cause's text while keeping it
// inspectable with errors.Is/As.
type scrubbed struct {
	err error
	msg string
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

func (c *Client) wrap(method string, from, to uint64, ep *endpoint, attempts int, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	name := ""
	if ep != nil {
		name = ep.name
	}
	return &Error{Chain: c.cfg.Chain, Method: method, From: from, To: to, Endpoint: name, Attempts: attempts, Err: c.scrub(err)}
}

// backoff is the jittered delay after n consecutive failures of an
// endpoint: base·2^(n-1) capped at MaxBackoff, drawn uniformly from
// [d/2, d] so that concurrent callers spread out.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.BaseBackoff << min(n-1, 30)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	c.rngMu.Lock()
	j := c.rng.Int64N(int64(d/2) + 1)
	c.rngMu.Unlock()
	return d/2 + time.Duration(j)
}

// call describes one logical request: one JSON-RPC request or one batch.
type call struct {
	method   string
	from, to uint64 // block range, for errors
	need     uint64 // highest block the endpoint must have; 0: any
	reqs     []request
	batch    bool
	only     *endpoint // pin to one endpoint (start-up checks)
	attempts int       // 0: Policy.MaxAttempts
	// check validates the answers; its error is classified like a
	// transport error (ErrBadResponse, *JSONError, *RangeLimitError).
	check func(rs []response) error
}

// exchange is one attempt on ep: rate limit, timeout, metric, health.
func (c *Client) exchange(ctx context.Context, ep *endpoint, k *call) ([]response, error) {
	if err := c.sleep(ctx, ep.limiter.reserve(c.now())); err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	began := c.now()
	rs, err := ep.t.call(actx, k.reqs, k.batch)
	cancel()
	if err == nil && k.check != nil {
		err = k.check(rs)
	}
	err = c.overLimit(ctx, ep, k, err)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	o := outcomeOK
	if err != nil {
		o = classify(err)
	}
	attrs := metric.WithAttributes(attribute.String("method", k.method),
		attribute.String("endpoint", ep.host), attribute.String("outcome", string(o)))
	c.requests.Add(ctx, 1, attrs)
	c.duration.Record(ctx, c.now().Sub(began).Seconds(), attrs)
	c.health.note(c.now(), k.method, ep.host, o)
	if o == outcomeOK || o.endpointFault() {
		var retryAfter time.Duration
		var he *HTTPError
		if errors.As(err, &he) {
			retryAfter = he.RetryAfter
		}
		if reason := ep.record(c.now(), o != outcomeOK, c.cfg.Policy, c.backoff, retryAfter); reason != "" {
			c.demoted(ctx, ep, "failures", reason)
		}
	}
	return rs, err
}

func (c *Client) demoted(ctx context.Context, ep *endpoint, kind, reason string) {
	c.demotions.Add(ctx, 1, metric.WithAttributes(attribute.String("endpoint", ep.host), attribute.String("reason", kind)))
	c.log.Warn("rpc endpoint demoted", "chain", c.cfg.Chain, "endpoint", ep.name, "reason", reason, "for", c.cfg.DemoteFor)
}

// do runs k with retries: each attempt goes to the best endpoint that has
// block k.need (not demoted, earliest out of backoff, in configured order),
// so a throttled or failing endpoint hands over to the next one at once.
func (c *Client) do(ctx context.Context, k *call) ([]response, error) {
	attempts := k.attempts
	if attempts == 0 {
		attempts = c.cfg.MaxAttempts
	}
	if k.only == nil && k.need > 0 {
		c.maybeProbeHeads(ctx)
	}
	var last error
	var lastEp *endpoint
	for attempt := 1; attempt <= attempts; attempt++ {
		ep, wait, err := c.pick(ctx, k, lastEp)
		if err != nil {
			last = err
			if attempt < attempts {
				if serr := c.sleep(ctx, c.backoff(attempt)); serr != nil {
					return nil, c.wrap(k.method, k.from, k.to, nil, attempt, serr)
				}
			}
			continue
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, c.wrap(k.method, k.from, k.to, ep, attempt, err)
		}
		rs, err := c.exchange(ctx, ep, k)
		if err == nil {
			return rs, nil
		}
		if ctx.Err() != nil {
			return nil, c.wrap(k.method, k.from, k.to, ep, attempt, ctx.Err())
		}
		o := classify(err)
		if !o.retryable() {
			return nil, c.wrap(k.method, k.from, k.to, ep, attempt, err)
		}
		last, lastEp = err, ep
		if attempt < attempts {
			c.log.Warn("rpc request failed, retrying", "chain", c.cfg.Chain, "method", k.method, "from", k.from, "to", k.to,
				"endpoint", ep.name, "attempt", attempt, "outcome", string(o), "err", c.scrub(err))
		}
	}
	return nil, c.wrap(k.method, k.from, k.to, lastEp, attempts, last)
}

// pick chooses the endpoint for the next attempt and how long to wait for
// its backoff to end.
func (c *Client) pick(ctx context.Context, k *call, avoid *endpoint) (*endpoint, time.Duration, error) {
	cands := c.endpoints
	if k.only != nil {
		cands = []*endpoint{k.only}
	}
	var ready []*endpoint
	var best uint64
	for _, ep := range cands {
		head, headAt, _, _ := ep.snapshot()
		if k.need > 0 && head < k.need && k.only == nil {
			// Maybe the endpoint moved on since we last asked.
			if c.now().Sub(headAt) < time.Second {
				best = max(best, head)
				continue
			}
			if h, err := c.headOf(ctx, ep); err != nil || h < k.need {
				best = max(best, h)
				continue
			}
		}
		ready = append(ready, ep)
	}
	if len(ready) == 0 {
		return nil, 0, fmt.Errorf("%w: need block %d, best endpoint head %d", ErrNoEndpoint, k.need, best)
	}
	now := c.now()
	var healthy []*endpoint
	for _, ep := range ready {
		if !ep.demoted(now) {
			healthy = append(healthy, ep)
		}
	}
	if len(healthy) == 0 {
		healthy = ready // every endpoint is demoted: use them anyway
	}
	var pickEp *endpoint
	var pickAt time.Time
	for _, ep := range healthy {
		_, _, nb, _ := ep.snapshot()
		at := nb
		if at.Before(now) {
			at = now
		}
		if pickEp == nil || at.Before(pickAt) || (at.Equal(pickAt) && pickEp == avoid && ep != avoid) {
			pickEp, pickAt = ep, at
		}
	}
	return pickEp, pickAt.Sub(now), nil
}

// single returns a check for a one-request call that turns a JSON-RPC error
// into the call's error and decodes the result into dst.
func single(dst any) func([]response) error {
	return func(rs []response) error {
		if rs[0].Err != nil {
			return rs[0].Err
		}
		if err := json.Unmarshal(rs[0].Result, dst); err != nil {
			return badResponse("decoding result %s: %v", truncate(string(rs[0].Result), 80), err)
		}
		return nil
	}
}

// chainIDOf reads one endpoint's eth_chainId.
func (c *Client) chainIDOf(ctx context.Context, ep *endpoint) (uint64, error) {
	var id hexutil.Big
	_, err := c.do(ctx, &call{method: "eth_chainId", reqs: []request{{Method: "eth_chainId"}}, only: ep, check: single(&id)})
	if err != nil {
		return 0, err
	}
	return (*big.Int)(&id).Uint64(), nil
}

// maxPlausibleBlock rejects absurd block numbers (no chain is near 2^40).
const maxPlausibleBlock = 1 << 40

// headOf reads one endpoint's eth_blockNumber, once, and records it.
func (c *Client) headOf(ctx context.Context, ep *endpoint) (uint64, error) {
	var n hexutil.Uint64
	_, err := c.do(ctx, &call{method: "eth_blockNumber", reqs: []request{{Method: "eth_blockNumber"}}, only: ep, attempts: 1,
		check: func(rs []response) error {
			if err := single(&n)(rs); err != nil {
				return err
			}
			if uint64(n) > maxPlausibleBlock {
				return badResponse("eth_blockNumber %d is implausible", uint64(n))
			}
			return nil
		}})
	if err != nil {
		return 0, err
	}
	if reason := ep.setHead(c.now(), uint64(n), max(uint64(n), c.bestHead()), c.cfg.Policy); reason != "" {
		c.demoted(ctx, ep, "lag", reason)
	}
	return uint64(n), nil
}

func (c *Client) bestHead() uint64 {
	var best uint64
	for _, ep := range c.endpoints {
		h, _, _, _ := ep.snapshot()
		best = max(best, h)
	}
	return best
}

// probeHeads reads every endpoint's head and updates lag tracking. It
// returns the best head and the first error when no endpoint answered.
func (c *Client) probeHeads(ctx context.Context) (uint64, error) {
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	c.lastProbe = c.now()
	heads := make([]uint64, len(c.endpoints))
	var firstErr error
	var best uint64
	answered := false
	// With one endpoint its head must come through retries; with several,
	// one failed probe is enough (the others answer).
	attempts := 1
	if len(c.endpoints) == 1 {
		attempts = c.cfg.MaxAttempts
	}
	for i, ep := range c.endpoints {
		var n hexutil.Uint64
		_, err := c.do(ctx, &call{method: "eth_blockNumber", reqs: []request{{Method: "eth_blockNumber"}}, only: ep, attempts: attempts,
			check: func(rs []response) error {
				if err := single(&n)(rs); err != nil {
					return err
				}
				if uint64(n) > maxPlausibleBlock {
					return badResponse("eth_blockNumber %d is implausible", uint64(n))
				}
				return nil
			}})
		if err != nil {
			if ctx.Err() != nil {
				return 0, err
			}
			firstErr = cmpOr(firstErr, err)
			heads[i] = math.MaxUint64
			continue
		}
		answered = true
		heads[i] = uint64(n)
		best = max(best, uint64(n))
	}
	if !answered {
		return 0, firstErr
	}
	now := c.now()
	for i, ep := range c.endpoints {
		if heads[i] == math.MaxUint64 {
			continue
		}
		if reason := ep.setHead(now, heads[i], best, c.cfg.Policy); reason != "" {
			c.demoted(ctx, ep, "lag", reason)
		}
	}
	return best, nil
}

// maybeProbeHeads probes the heads when the last probe is older than
// HeadProbeInterval; concurrent callers do not wait for a running probe.
func (c *Client) maybeProbeHeads(ctx context.Context) {
	if len(c.endpoints) < 2 {
		return
	}
	if !c.probeMu.TryLock() {
		return
	}
	stale := c.now().Sub(c.lastProbe) >= c.cfg.HeadProbeInterval
	c.probeMu.Unlock()
	if stale {
		_, _ = c.probeHeads(ctx)
	}
}

// ChainID returns eth_chainId of the first endpoint that answers.
func (c *Client) ChainID(ctx context.Context) (uint64, error) {
	var id hexutil.Big
	_, err := c.do(ctx, &call{method: "eth_chainId", reqs: []request{{Method: "eth_chainId"}}, check: single(&id)})
	if err != nil {
		return 0, err
	}
	return (*big.Int)(&id).Uint64(), nil
}

// Head returns the highest head among the endpoints (eth_blockNumber of
// each), and updates their lag tracking. Requests for a block are only sent
// to endpoints whose head has it, so a lagging endpoint never answers for
// blocks it does not have.
func (c *Client) Head(ctx context.Context) (uint64, error) {
	head, err := c.probeHeads(ctx)
	if err != nil {
		return 0, c.wrap("eth_blockNumber", 0, 0, nil, 1, err)
	}
	return head, nil
}

// HeaderByTag returns the header of "latest", "safe" or "finalized". ok is
// false when the node does not serve the tag. A tag is relative to the node
// that answers it, so it is asked only of an endpoint within the lag
// tolerance of the best head seen: a lagging node's "finalized" would hold
// ingest back by its lag.
func (c *Client) HeaderByTag(ctx context.Context, tag string) (h Header, ok bool, err error) {
	var raw rpcHeader
	var null, tagErr bool
	var need uint64
	if best := c.bestHead(); best > c.cfg.Policy.LagBlocks {
		need = best - c.cfg.Policy.LagBlocks
	}
	_, err = c.do(ctx, &call{method: "eth_getBlockByNumber", need: need, reqs: []request{{Method: "eth_getBlockByNumber", Params: []any{tag, false}}},
		check: func(rs []response) error {
			null, tagErr = false, false
			if je := rs[0].Err; je != nil {
				if isThrottleJSON(je) {
					return je
				}
				tagErr = true // the node does not know the tag
				return nil
			}
			var err error
			if raw, null, err = parseHeader(rs[0].Result); err != nil {
				return badResponse("decoding %s header: %v", tag, err)
			}
			if !null {
				if _, err := raw.header(); err != nil {
					return err
				}
			}
			return nil
		}})
	if err != nil {
		return Header{}, false, err
	}
	if tagErr || null {
		return Header{}, false, nil
	}
	h, _ = raw.header()
	return h, true, nil
}

// ForgetHeaders drops the cached headers of blocks from and above. Headers
// are cached by number, so after a reorg the cache holds orphaned ones:
// callers that detect a reorg forget from the lowest block it may have
// replaced before reading headers again.
func (c *Client) ForgetHeaders(from uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := range c.headers {
		if n >= from {
			delete(c.headers, n)
		}
	}
}

// HeadersBatch returns the headers of numbers, in the same order, fetching the
// ones not cached in JSON-RPC batches of Policy.BatchSize.
func (c *Client) HeadersBatch(ctx context.Context, numbers []uint64) ([]Header, error) {
	out := make([]Header, len(numbers))
	var missing []uint64
	seen := map[uint64]bool{}
	c.mu.Lock()
	for i, n := range numbers {
		if h, ok := c.headers[n]; ok {
			out[i] = h
		} else if !seen[n] {
			seen[n] = true
			missing = append(missing, n)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	fetched := make(map[uint64]Header, len(missing))
	for start := 0; start < len(missing); start += c.cfg.BatchSize {
		part := missing[start:min(start+c.cfg.BatchSize, len(missing))]
		lo, hi := part[0], part[0]
		reqs := make([]request, len(part))
		for i, n := range part {
			lo, hi = min(lo, n), max(hi, n)
			reqs[i] = request{Method: "eth_getBlockByNumber", Params: []any{hexutil.Uint64(n), false}}
		}
		got := make([]Header, len(part))
		_, err := c.do(ctx, &call{method: "eth_getBlockByNumber", from: lo, to: hi, need: hi, reqs: reqs, batch: true,
			check: func(rs []response) error {
				for i, r := range rs {
					if r.Err != nil {
						return r.Err
					}
					raw, null, err := parseHeader(r.Result)
					if err != nil {
						return badResponse("decoding header %d: %v", part[i], err)
					}
					if null {
						return fmt.Errorf("%w: block %d", ErrBlockNotFound, part[i])
					}
					h, err := raw.header()
					if err != nil {
						return err
					}
					if h.Number != part[i] {
						return badResponse("asked for block %d, got header %d", part[i], h.Number)
					}
					got[i] = h
				}
				return nil
			}})
		if err != nil {
			return nil, err
		}
		for _, h := range got {
			fetched[h.Number] = h
		}
	}
	c.mu.Lock()
	if len(c.headers)+len(fetched) > c.cfg.HeaderCacheSize {
		c.headers = make(map[uint64]Header, len(fetched)) // crude bound: drop all
	}
	for n, h := range fetched {
		c.headers[n] = h
	}
	c.mu.Unlock()
	for i, n := range numbers {
		if out[i].Hash == (common.Hash{}) {
			out[i] = fetched[n]
		}
	}
	return out, nil
}

// CallBatch runs calls in JSON-RPC batches. The returned error is for the
// batch as a whole (transport, retries exhausted, a rate-limit answer); a
// call that reverts has its own CallResult.Err.
func (c *Client) CallBatch(ctx context.Context, calls []Call) ([]CallResult, error) {
	out := make([]CallResult, len(calls))
	for start := 0; start < len(calls); start += c.cfg.BatchSize {
		part := calls[start:min(start+c.cfg.BatchSize, len(calls))]
		lo, hi := part[0].Block, part[0].Block
		reqs := make([]request, len(part))
		for i, cl := range part {
			lo, hi = min(lo, cl.Block), max(hi, cl.Block)
			reqs[i] = request{Method: "eth_call", Params: []any{callArgs{To: cl.To, Data: cl.Data}, hexutil.Uint64(cl.Block)}}
		}
		res := make([]CallResult, len(part))
		_, err := c.do(ctx, &call{method: "eth_call", from: lo, to: hi, need: hi, reqs: reqs, batch: true,
			check: func(rs []response) error {
				// The results share one buffer, each capped to its length.
				size := 0
				for _, r := range rs {
					size += callResultSize(r.Result)
				}
				buf := make([]byte, 0, size)
				for i, r := range rs {
					if r.Err != nil {
						if isThrottleJSON(r.Err) {
							return r.Err
						}
						if forgotState(r.Err) {
							return fmt.Errorf("%w: eth_call at block %d: %v (the endpoint lacks this state)", ErrBlockNotFound, part[i].Block, r.Err)
						}
						res[i] = CallResult{Err: c.scrub(r.Err)} // the node's text may echo the key
						continue
					}
					start := len(buf)
					var err error
					if buf, err = appendCallResult(buf, r.Result); err != nil {
						return badResponse("decoding eth_call result at block %d: %v", part[i].Block, err)
					}
					res[i] = CallResult{Data: buf[start:len(buf):len(buf)]}
				}
				return nil
			}})
		if err != nil {
			return nil, err
		}
		copy(out[start:], res)
	}
	return out, nil
}

// forgotState reports a node that lacks the block or its state (pruned,
// lagging): another endpoint may have it.
func forgotState(e *JSONError) bool {
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "missing trie node") || strings.Contains(m, "header not found") ||
		strings.Contains(m, "unknown block") || strings.Contains(m, "state histories haven't been fully indexed") ||
		strings.Contains(m, "state is not available") || strings.Contains(m, "pruned")
}

// logs is Logs (trace.go) without its span: eth_getLogs over the inclusive
// range [from, to] for the given emitting addresses and topic0 values, in
// (block, log index) order as the nodes return them. The range is fetched in spans of LogSpan blocks: a
// provider's refusal shrinks the span to what its error text suggests (or
// half), successes grow it back, and a refused single block ends with
// ErrRangeExhausted naming the chain and block.
func (c *Client) logs(ctx context.Context, from, to uint64, addresses []common.Address, topic0s []common.Hash) ([]types.Log, error) {
	var out []types.Log
	lo := from
	ceiling := uint64(math.MaxUint64) // strictly decreases while lo is refused
	for lo <= to {
		span := min(c.span.Load(), ceiling)
		hi := to
		if span-1 < to-lo {
			hi = lo + span - 1
		}
		logs, err := c.getLogs(ctx, lo, hi, addresses, topic0s)
		if err == nil {
			out = append(out, logs...)
			c.logSuccess()
			if hi == math.MaxUint64 {
				break
			}
			lo, ceiling = hi+1, math.MaxUint64
			continue
		}
		var rl *RangeLimitError
		if !errors.As(err, &rl) {
			return nil, err
		}
		if hi == lo {
			return nil, &Error{Chain: c.cfg.Chain, Method: "eth_getLogs", From: lo, To: lo, Attempts: 1,
				Err: fmt.Errorf("%w: block %d on %s: %w%s",
					ErrRangeExhausted, lo, c.cfg.Chain, c.scrub(rl.Err), exhaustedAdvice(rl.Err))}
		}
		ceiling = rl.Span
		c.shrink(rl.Span)
		if rl.HardCap {
			c.capSpan(rl.Span)
		}
		c.log.Info("eth_getLogs range refused, shrinking", "chain", c.cfg.Chain, "from", lo, "to", hi,
			"span", rl.Span, "suggested", rl.Suggested)
		traceShrink(ctx, lo, hi, rl.Span)
	}
	return out, nil
}

func (c *Client) shrink(span uint64) {
	for {
		cur := c.span.Load()
		if span >= cur || c.span.CompareAndSwap(cur, span) {
			c.spanOK.Store(0)
			return
		}
	}
}

func (c *Client) capSpan(span uint64) {
	for {
		cur := c.spanCap.Load()
		if (cur != 0 && span >= cur) || c.spanCap.CompareAndSwap(cur, span) {
			return
		}
	}
}

func (c *Client) logSuccess() {
	cur := c.span.Load()
	top := c.cfg.MaxLogRange
	if hc := c.spanCap.Load(); hc != 0 {
		top = min(top, hc)
	}
	if cur >= top {
		return
	}
	if c.spanOK.Add(1) >= int64(c.cfg.LogRangeGrowAfter) {
		if c.span.CompareAndSwap(cur, min(2*cur, top)) {
			c.spanOK.Store(0)
		}
	}
}

// getLogs is one eth_getLogs range with retries; a provider's range refusal
// comes back at once as *RangeLimitError.
func (c *Client) getLogs(ctx context.Context, lo, hi uint64, addresses []common.Address, topic0s []common.Hash) ([]types.Log, error) {
	q := logFilter{FromBlock: hexutil.Uint64(lo), ToBlock: hexutil.Uint64(hi), Address: addresses, Topics: [][]common.Hash{topic0s}}
	var logs []types.Log
	_, err := c.do(ctx, &call{method: "eth_getLogs", from: lo, to: hi, need: hi, reqs: []request{{Method: "eth_getLogs", Params: []any{q}}},
		check: func(rs []response) error {
			logs = nil
			if je := rs[0].Err; je != nil {
				m := strings.ToLower(je.Message)
				if strings.Contains(m, "rate limit") || strings.Contains(m, "too many requests") {
					return je
				}
				if span, sugg, hardCap, ok := parseRangeError(je.Code, je.Message, string(je.Data), lo, hi); ok {
					return &RangeLimitError{From: lo, To: hi, Span: span, Suggested: sugg, HardCap: hardCap, Err: je}
				}
				return je
			}
			var err error
			if logs, err = ParseLogs(rs[0].Result); err != nil {
				return badResponse("decoding %v", err) // "eth_getLogs result: log i field f at byte n: …"
			}
			if len(logs) > c.cfg.MaxLogsPerResponse {
				return &LimitError{Key: KeyMaxLogsPerResponse, Max: int64(c.cfg.MaxLogsPerResponse), Got: int64(len(logs))}
			}
			for i := range logs {
				if n := logs[i].BlockNumber; n < lo || n > hi {
					return badResponse("log %d at block %d is outside the requested range %d..%d", i, n, lo, hi)
				}
			}
			return nil
		}})
	return logs, err
}
