package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Defaults of Limits.
const (
	// DefaultMaxResponseBytes bounds one answer read from an endpoint: 64
	// MiB holds about 90,000 logs as JSON, far above what the protocol
	// filters return for a log_range, while keeping the memory of
	// concurrency in-flight answers (plus their decoded form) bounded. An
	// eth_getLogs answer over it is not an error for long: its range is
	// halved like a provider's "range too large" refusal.
	DefaultMaxResponseBytes = 64 << 20
	// DefaultMaxLogsPerResponse bounds the logs of one eth_getLogs answer:
	// twice the 10,000-result cap of the hosted providers, so their answers
	// always pass, while a self-hosted node (no cap) over a dense range has
	// its range split instead of feeding one huge batch to decode, price
	// and publish.
	DefaultMaxLogsPerResponse = 20_000
	// maxErrorBodyBytes is how much of a non-2xx answer is read: only its
	// first bytes make it into the error text.
	maxErrorBodyBytes = 64 << 10
)

// Limits bound what is read from an endpoint. ingest inlines them in its
// YAML config (through Policy), so the keys are top-level ingest keys. A
// zero field takes its default.
type Limits struct {
	// MaxResponseBytes is the largest answer body read from an endpoint,
	// in bytes (default 64 MiB, at least 1 KiB). A larger eth_getLogs answer
	// halves the block range like a provider's refusal; a one-block range
	// over the limit fails with ErrRangeExhausted. Other methods' larger
	// answers are bad responses, retried on another endpoint. On ws(s)
	// endpoints it is the websocket message size limit.
	MaxResponseBytes int64 `yaml:"rpc_max_response_bytes"`
	// MaxLogsPerResponse is the most logs accepted in one eth_getLogs answer
	// (default 20,000); more halve the block range, as above.
	MaxLogsPerResponse int `yaml:"rpc_max_logs_per_response"`
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{MaxResponseBytes: DefaultMaxResponseBytes, MaxLogsPerResponse: DefaultMaxLogsPerResponse}
}

func (l Limits) withDefaults() Limits {
	if l.MaxResponseBytes == 0 {
		l.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if l.MaxLogsPerResponse == 0 {
		l.MaxLogsPerResponse = DefaultMaxLogsPerResponse
	}
	return l
}

func (l Limits) validate() error {
	switch {
	case l.MaxResponseBytes < 0 || (l.MaxResponseBytes > 0 && l.MaxResponseBytes < 1<<10) || l.MaxResponseBytes > 4<<30:
		return cfgErr("rpc_max_response_bytes: must be 1024..4294967296 (0 takes the default %d), got %d", DefaultMaxResponseBytes, l.MaxResponseBytes)
	case l.MaxLogsPerResponse < 0 || l.MaxLogsPerResponse > 10_000_000:
		return cfgErr("rpc_max_logs_per_response: must be 1..10000000 (0 takes the default %d), got %d", DefaultMaxLogsPerResponse, l.MaxLogsPerResponse)
	}
	return nil
}

// Config keys named by LimitError.Key.
const (
	KeyMaxResponseBytes   = "rpc_max_response_bytes"
	KeyMaxLogsPerResponse = "rpc_max_logs_per_response"
)

var (
	// ErrResponseLimit is wrapped by *LimitError: an answer over one of
	// the Limits.
	ErrResponseLimit = errors.New("RPC answer over a configured limit")
	// ErrBatchMismatch: a JSON-RPC batch answer whose items do not match
	// the requests one to one (more items than requests, an id that was not
	// requested, an id answered twice, a request left unanswered). It also
	// wraps ErrBadResponse: the batch is retried, on another endpoint when
	// there is one.
	ErrBatchMismatch = errors.New("JSON-RPC batch answer does not match its requests")
)

// LimitError is an answer over one of the Limits. It wraps ErrResponseLimit
// and ErrBadResponse. For eth_getLogs it comes wrapped in a
// *RangeLimitError, so that Logs halves the range.
type LimitError struct {
	// Key is the config key of the limit: KeyMaxResponseBytes or
	// KeyMaxLogsPerResponse.
	Key string
	// Method is the JSON-RPC method; Endpoint the redacted endpoint URL.
	Method, Endpoint string
	// Max is the limit; Got what was seen: the Content-Length or the log
	// count, or 0 when the body was cut while streaming (only "more than
	// Max" is known).
	Max, Got int64
	// SingleBlock: the answer was to a one-block eth_getLogs, which cannot
	// be split further.
	SingleBlock bool
}

func (e *LimitError) Error() string {
	unit, hint := "bytes", "lower log_range or raise "+e.Key
	if e.Key == KeyMaxLogsPerResponse {
		unit = "logs"
	}
	switch {
	case e.Method != "eth_getLogs":
		hint = "check the endpoint, or raise " + e.Key + " if such answers are expected"
	case e.SingleBlock:
		hint = "even a single block is over it: raise " + e.Key
	}
	var b strings.Builder
	b.WriteString("answer")
	if e.Method != "" {
		b.WriteString(" to " + e.Method)
	}
	if e.Endpoint != "" {
		b.WriteString(" from " + e.Endpoint)
	}
	if e.Got > 0 {
		fmt.Fprintf(&b, " has %d %s,", e.Got, unit)
	} else {
		fmt.Fprintf(&b, " is")
	}
	fmt.Fprintf(&b, " over %s (%d %s): %s", e.Key, e.Max, unit, hint)
	return b.String()
}

// Unwrap returns ErrResponseLimit and ErrBadResponse.
func (e *LimitError) Unwrap() []error { return []error{ErrResponseLimit, ErrBadResponse} }

// batchMismatch is an ErrBatchMismatch (and ErrBadResponse) error.
func batchMismatch(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrBadResponse, ErrBatchMismatch}, args...)...)
}

// mismatch is batchMismatch for a batch and badResponse for a single
// request.
func mismatch(batch bool, format string, args ...any) error {
	if batch {
		return batchMismatch(format, args...)
	}
	return badResponse(format, args...)
}

// readBody reads an answer body of at most max bytes: a Content-Length over
// max fails before reading, a longer stream is cut at max+1 bytes.
func readBody(body io.Reader, contentLength, max int64, method string) ([]byte, error) {
	if contentLength > max {
		return nil, &LimitError{Key: KeyMaxResponseBytes, Method: method, Max: max, Got: contentLength}
	}
	if contentLength >= 0 {
		// The usual case (Content-Length sent): one allocation of the
		// right size instead of ReadAll's growing copies.
		raw := make([]byte, contentLength)
		if _, err := io.ReadFull(body, raw); err != nil {
			return nil, fmt.Errorf("reading response: %w", err)
		}
		return raw, nil
	}
	raw, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	if int64(len(raw)) > max {
		return nil, &LimitError{Key: KeyMaxResponseBytes, Method: method, Max: max}
	}
	return raw, nil
}

// Reasons of the rpc_responses_rejected metric.
const (
	rejectTooLarge      = "too_large"
	rejectTooManyLogs   = "too_many_logs"
	rejectBatchMismatch = "batch_mismatch"
)

// limitState is the Client's side of the limits: the rejection counter.
type limitState struct {
	rejected metric.Int64Counter
}

func (l *limitState) init(meter metric.Meter) error {
	var err error
	l.rejected, err = meter.Int64Counter("rpc_responses_rejected",
		metric.WithDescription("Endpoint answers rejected by a limit (too_large: rpc_max_response_bytes, too_many_logs: "+
			"rpc_max_logs_per_response) or as a batch that does not match its requests (batch_mismatch), by method and endpoint host"))
	if err != nil {
		return fmt.Errorf("creating rpc_responses_rejected counter: %w", err)
	}
	return nil
}

// overLimit completes and counts a limit or batch error of an attempt of k
// on ep, and turns an eth_getLogs answer over a limit into a
// *RangeLimitError so that Logs halves the range. Other errors pass through.
func (c *Client) overLimit(ctx context.Context, ep *endpoint, k *call, err error) error {
	if err == nil {
		return nil
	}
	var le *LimitError
	var reason string
	switch {
	case errors.As(err, &le):
		reason = rejectTooLarge
		if le.Key == KeyMaxLogsPerResponse {
			reason = rejectTooManyLogs
		}
	case errors.Is(err, ErrBatchMismatch):
		reason = rejectBatchMismatch
	case isWS(ep) && strings.Contains(err.Error(), "read limit exceeded"):
		// gorilla/websocket's ErrReadLimit, through go-ethereum's client.
		le = &LimitError{Key: KeyMaxResponseBytes, Max: c.cfg.MaxResponseBytes}
		err, reason = le, rejectTooLarge
	default:
		return err
	}
	c.lim.rejected.Add(ctx, 1, metric.WithAttributes(attribute.String("method", k.method),
		attribute.String("endpoint", ep.host), attribute.String("reason", reason)))
	if le == nil {
		return err
	}
	le.Method, le.Endpoint = k.method, ep.name
	le.SingleBlock = k.method == "eth_getLogs" && k.from == k.to
	var rl *RangeLimitError
	if k.method != "eth_getLogs" || errors.As(err, &rl) {
		return err
	}
	return &RangeLimitError{From: k.from, To: k.to, Span: max(1, (k.to-k.from+1)/2), Err: err}
}

func isWS(ep *endpoint) bool {
	_, ok := ep.t.(*wsTransport)
	return ok
}

// exhaustedAdvice says what to do when a single block's eth_getLogs is
// refused with cause.
func exhaustedAdvice(cause error) string {
	var le *LimitError
	if errors.As(cause, &le) {
		return "" // the LimitError says it
	}
	return "; the provider cannot serve this block's logs, use another rpc_urls entry"
}
