package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// Config configures a Client.
type Config struct {
	// URL is the JSON-RPC endpoint (http, https, ws or wss).
	URL secret.URL
	// ChainID is the chain the endpoint must serve; Chain its slug for errors.
	ChainID uint64
	Chain   string
	// MaxAttempts bounds tries per request (default 5).
	MaxAttempts int
	// BaseBackoff is the first retry delay, doubled per attempt up to 5 s
	// (default 100 ms).
	BaseBackoff time.Duration
	// RequestTimeout bounds one attempt (default 30 s).
	RequestTimeout time.Duration
	// BatchSize is the most requests sent in one JSON-RPC batch (default 100).
	BatchSize int
	// HeaderCacheSize bounds cached headers (default 200,000).
	HeaderCacheSize int
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 100 * time.Millisecond
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.HeaderCacheSize <= 0 {
		c.HeaderCacheSize = 200_000
	}
	if c.Chain == "" {
		c.Chain = fmt.Sprint(c.ChainID)
	}
	return c
}

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

// Client talks to one chain's endpoint. It is safe for concurrent use.
type Client struct {
	cfg      Config
	log      *slog.Logger
	c        *gethrpc.Client
	raw      []string // raw URL forms, scrubbed from error texts
	redacted string
	requests metric.Int64Counter

	mu      sync.Mutex
	headers map[uint64]Header
}

// New dials cfg.URL and checks eth_chainId against cfg.ChainID. meter may be
// nil.
func New(ctx context.Context, cfg Config, log *slog.Logger, meter metric.Meter) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.URL == "" {
		return nil, fmt.Errorf("rpc: rpc_url is empty")
	}
	if meter == nil {
		meter = noop.NewMeterProvider().Meter("")
	}
	requests, err := meter.Int64Counter("rpc_requests", metric.WithDescription("JSON-RPC requests by method and outcome (ok, error, retry)"))
	if err != nil {
		return nil, fmt.Errorf("creating rpc_requests counter: %w", err)
	}
	cl := &Client{cfg: cfg, log: log, redacted: cfg.URL.String(), requests: requests, headers: map[uint64]Header{}}
	cl.raw = []string{cfg.URL.Reveal()}
	if u, err := url.Parse(cfg.URL.Reveal()); err == nil {
		cl.raw = append(cl.raw, u.String(), u.Redacted())
	}
	c, err := gethrpc.DialOptions(ctx, cfg.URL.Reveal(), gethrpc.WithHTTPClient(&http.Client{Timeout: cfg.RequestTimeout}))
	if err != nil {
		return nil, cl.wrap("dial", 0, 0, 1, err)
	}
	cl.c = c
	id, err := cl.ChainID(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	if id != cfg.ChainID {
		c.Close()
		return nil, cl.wrap("eth_chainId", 0, 0, 1, fmt.Errorf("%w: endpoint chain id %d, configured %d (%s); fix rpc_url or chain", ErrChainMismatch, id, cfg.ChainID, cfg.Chain))
	}
	return cl, nil
}

// Close releases the connection.
func (c *Client) Close() { c.c.Close() }

// scrubbed hides the raw URL inside a cause's text while keeping it
// inspectable with errors.Is/As.
type scrubbed struct {
	err error
	msg string
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

func (c *Client) wrap(method string, from, to uint64, attempts int, err error) error {
	msg := err.Error()
	for _, r := range c.raw {
		if r != "" {
			msg = strings.ReplaceAll(msg, r, c.redacted)
		}
	}
	if msg != err.Error() {
		err = &scrubbed{err: err, msg: msg}
	}
	return &Error{Chain: c.cfg.Chain, Method: method, From: from, To: to, URL: c.redacted, Attempts: attempts, Err: err}
}

// do runs fn with retries on retryable errors. fn gets a per-attempt context.
func (c *Client) do(ctx context.Context, method string, from, to uint64, fn func(ctx context.Context) error) error {
	delay := c.cfg.BaseBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			c.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("method", method), attribute.String("outcome", "ok")))
			return nil
		}
		if ctx.Err() != nil {
			return c.wrap(method, from, to, attempt, ctx.Err())
		}
		if !IsRetryable(err) || attempt >= c.cfg.MaxAttempts {
			c.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("method", method), attribute.String("outcome", "error")))
			return c.wrap(method, from, to, attempt, err)
		}
		c.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("method", method), attribute.String("outcome", "retry")))
		if c.log != nil {
			c.log.Warn("rpc request failed, retrying", "chain", c.cfg.Chain, "method", method, "from", from, "to", to,
				"attempt", attempt, "delay", delay, "url", c.cfg.URL, "err", c.wrap(method, from, to, attempt, err))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.wrap(method, from, to, attempt, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// ChainID returns eth_chainId.
func (c *Client) ChainID(ctx context.Context) (uint64, error) {
	var id hexutil.Big
	err := c.do(ctx, "eth_chainId", 0, 0, func(ctx context.Context) error { return c.c.CallContext(ctx, &id, "eth_chainId") })
	if err != nil {
		return 0, err
	}
	return (*big.Int)(&id).Uint64(), nil
}

// Head returns eth_blockNumber.
func (c *Client) Head(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	err := c.do(ctx, "eth_blockNumber", 0, 0, func(ctx context.Context) error { return c.c.CallContext(ctx, &n, "eth_blockNumber") })
	return uint64(n), err
}

type rpcHeader struct {
	Number     hexutil.Uint64 `json:"number"`
	Hash       common.Hash    `json:"hash"`
	ParentHash common.Hash    `json:"parentHash"`
	Time       hexutil.Uint64 `json:"timestamp"`
}

// HeaderByTag returns the header of "latest", "safe" or "finalized". ok is
// false when the node does not serve the tag.
func (c *Client) HeaderByTag(ctx context.Context, tag string) (h Header, ok bool, err error) {
	var raw *rpcHeader
	err = c.do(ctx, "eth_getBlockByNumber", 0, 0, func(ctx context.Context) error {
		raw = nil
		return c.c.CallContext(ctx, &raw, "eth_getBlockByNumber", tag, false)
	})
	if err != nil {
		var rerr gethrpc.Error
		if errors.As(err, &rerr) {
			return Header{}, false, nil // the node does not know the tag
		}
		return Header{}, false, err
	}
	if raw == nil {
		return Header{}, false, nil
	}
	return Header{Number: uint64(raw.Number), Hash: raw.Hash, ParentHash: raw.ParentHash, Time: uint64(raw.Time)}, true, nil
}

// HeadersBatch returns the headers of numbers, in the same order, fetching the
// ones not cached in JSON-RPC batches of Config.BatchSize.
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
		res := make([]*rpcHeader, len(part))
		lo, hi := part[0], part[0]
		for _, n := range part {
			lo, hi = min(lo, n), max(hi, n)
		}
		err := c.do(ctx, "eth_getBlockByNumber", lo, hi, func(ctx context.Context) error {
			elems := make([]gethrpc.BatchElem, len(part))
			for i, n := range part {
				res[i] = nil
				elems[i] = gethrpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.Uint64(n), false}, Result: &res[i]}
			}
			if err := c.c.BatchCallContext(ctx, elems); err != nil {
				return err
			}
			for i := range elems {
				if elems[i].Error != nil {
					return elems[i].Error
				}
				if res[i] == nil {
					return fmt.Errorf("%w: block %d", ErrBlockNotFound, part[i])
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			fetched[uint64(r.Number)] = Header{Number: uint64(r.Number), Hash: r.Hash, ParentHash: r.ParentHash, Time: uint64(r.Time)}
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
			h, ok := fetched[n]
			if !ok {
				return nil, c.wrap("eth_getBlockByNumber", n, n, 1, fmt.Errorf("%w: node answered another block", ErrBlockNotFound))
			}
			out[i] = h
		}
	}
	return out, nil
}

// Logs returns eth_getLogs over the inclusive range [from, to] for the given
// emitting addresses and topic0 values, in (block, log index) order as the
// node returns them.
func (c *Client) Logs(ctx context.Context, from, to uint64, addresses []common.Address, topic0s []common.Hash) ([]types.Log, error) {
	q := map[string]any{
		"fromBlock": hexutil.Uint64(from),
		"toBlock":   hexutil.Uint64(to),
		"address":   addresses,
		"topics":    [][]common.Hash{topic0s},
	}
	var logs []types.Log
	err := c.do(ctx, "eth_getLogs", from, to, func(ctx context.Context) error {
		logs = nil
		return c.c.CallContext(ctx, &logs, "eth_getLogs", q)
	})
	return logs, err
}

// CallBatch runs calls in JSON-RPC batches. The returned error is for the
// batch as a whole (transport, retries exhausted); a call that reverts has its
// own CallResult.Err.
func (c *Client) CallBatch(ctx context.Context, calls []Call) ([]CallResult, error) {
	out := make([]CallResult, len(calls))
	for start := 0; start < len(calls); start += c.cfg.BatchSize {
		part := calls[start:min(start+c.cfg.BatchSize, len(calls))]
		lo, hi := part[0].Block, part[0].Block
		for _, cl := range part {
			lo, hi = min(lo, cl.Block), max(hi, cl.Block)
		}
		res := make([]hexutil.Bytes, len(part))
		var elems []gethrpc.BatchElem
		err := c.do(ctx, "eth_call", lo, hi, func(ctx context.Context) error {
			elems = make([]gethrpc.BatchElem, len(part))
			for i, cl := range part {
				res[i] = nil
				msg := map[string]any{"to": cl.To, "data": hexutil.Bytes(cl.Data)}
				elems[i] = gethrpc.BatchElem{Method: "eth_call", Args: []any{msg, hexutil.Uint64(cl.Block)}, Result: &res[i]}
			}
			return c.c.BatchCallContext(ctx, elems)
		})
		if err != nil {
			return nil, err
		}
		for i := range part {
			out[start+i] = CallResult{Data: res[i], Err: elems[i].Error}
		}
	}
	return out, nil
}

// compile-time check that the filter type we mimic still exists upstream, so
// a go-ethereum upgrade that changes log filtering semantics is noticed.
var _ = ethereum.FilterQuery{}
