package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Sentinels wrapped by the errors of this package.
var (
	// ErrChainMismatch: the endpoint serves a different chain than configured.
	ErrChainMismatch = errors.New("endpoint serves a different chain")
	// ErrBlockNotFound: the node returned null for a block it should have.
	ErrBlockNotFound = errors.New("block not found")
	// ErrBadResponse: the answer is not valid JSON-RPC, has the wrong type or
	// holds absurd values (a log outside the requested range, a header of
	// another block). It is retried, on another endpoint when there is one.
	ErrBadResponse = errors.New("malformed or implausible RPC response")
	// ErrRangeLimited: the provider refused an eth_getLogs range as too wide
	// or too many results; *RangeLimitError carries its suggestion.
	ErrRangeLimited = errors.New("eth_getLogs range refused by the provider")
	// ErrRangeExhausted: even a one-block eth_getLogs range was refused.
	ErrRangeExhausted = errors.New("eth_getLogs refused even for a single block")
	// ErrNoEndpoint: no endpoint has the requested block yet.
	ErrNoEndpoint = errors.New("no endpoint serves the requested block yet")
)

// Error is a failed request with where it happened. Endpoint is the
// endpoint's redacted URL: never the key.
type Error struct {
	Chain  string
	Method string
	// From and To are the inclusive block range the request covered; both are
	// zero when the request is not about blocks.
	From, To uint64
	Endpoint string
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rpc %s on %s", e.Method, e.Chain)
	if e.Endpoint != "" {
		fmt.Fprintf(&b, " (%s)", e.Endpoint)
	}
	if e.From != 0 || e.To != 0 {
		fmt.Fprintf(&b, " blocks %d..%d", e.From, e.To)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// JSONError is a JSON-RPC error object answered by a node.
type JSONError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *JSONError) Error() string {
	s := fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message)
	if len(e.Data) > 0 && string(e.Data) != "null" {
		s += " (data " + truncate(string(e.Data), 200) + ")"
	}
	return s
}

// HTTPError is a non-2xx HTTP answer. RetryAfter is the parsed Retry-After
// header (seconds or HTTP-date), zero when absent.
type HTTPError struct {
	StatusCode int
	RetryAfter time.Duration
	Body       string // first bytes, for the error text
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.StatusCode)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// RangeLimitError is a provider's refusal of an eth_getLogs range. Span is
// the block count to retry with (parsed from the error text when Suggested,
// else half the refused span).
type RangeLimitError struct {
	From, To  uint64
	Span      uint64
	Suggested bool
	HardCap   bool // Span is the provider's fixed block cap
	Err       error
}

func (e *RangeLimitError) Error() string {
	how := "halving"
	if e.Suggested {
		how = "provider suggests"
	}
	return fmt.Sprintf("%v: blocks %d..%d refused (%s %d blocks): %v", ErrRangeLimited, e.From, e.To, how, e.Span, e.Err)
}

// Unwrap returns the provider's error and ErrRangeLimited.
func (e *RangeLimitError) Unwrap() []error { return []error{ErrRangeLimited, e.Err} }

// badResponse wraps cause as ErrBadResponse.
func badResponse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadResponse}, args...)...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// outcome classifies one attempt for the metric and the retry decision.
type outcome string

const (
	outcomeOK           outcome = "ok"
	outcomeThrottled    outcome = "throttled"     // 429 or a JSON-RPC rate-limit answer
	outcomeServerError  outcome = "server_error"  // 5xx
	outcomeTimeout      outcome = "timeout"       // attempt deadline
	outcomeTransport    outcome = "transport"     // refused, reset, EOF
	outcomeBadResponse  outcome = "bad_response"  // malformed JSON, wrong types, absurd values
	outcomeRangeLimited outcome = "range_limited" // eth_getLogs range refused
	outcomeRPCError     outcome = "rpc_error"     // other JSON-RPC error: not retried
	outcomeHTTPError    outcome = "http_error"    // other 4xx: tried on another endpoint
	outcomeNotReady     outcome = "not_ready"     // endpoint lacks the block
)

// classify returns the outcome of a failed attempt.
func classify(err error) outcome {
	var he *HTTPError
	var je *JSONError
	var ne net.Error
	switch {
	case errors.Is(err, ErrRangeLimited):
		return outcomeRangeLimited
	case errors.Is(err, ErrBadResponse):
		return outcomeBadResponse
	case errors.Is(err, ErrBlockNotFound), errors.Is(err, ErrNoEndpoint):
		return outcomeNotReady
	case errors.As(err, &he):
		switch {
		case he.StatusCode == 429:
			return outcomeThrottled
		case he.StatusCode >= 500 || he.StatusCode == 408:
			return outcomeServerError
		}
		return outcomeHTTPError
	case errors.As(err, &je):
		if isThrottleJSON(je) {
			return outcomeThrottled
		}
		return outcomeRPCError
	case errors.Is(err, context.DeadlineExceeded):
		return outcomeTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return outcomeTimeout
	}
	return outcomeTransport
}

// isThrottleJSON reports a JSON-RPC answer that means "slow down": -32005
// (EIP-1474 limit exceeded, Infura), -32016 (over rate limit), 429 as a
// JSON-RPC code, or a rate-limit message (Alchemy sends -32001 "Unable to
// complete request at this time" under load, rindexer's has_throttle_error_payload).
func isThrottleJSON(e *JSONError) bool {
	if e.Code == -32005 || e.Code == -32016 || e.Code == 429 || e.Code == -32001 {
		return true
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "rate limit") || strings.Contains(m, "too many requests") || strings.Contains(m, "capacity exceeded")
}

// retryable reports whether an outcome may succeed on a later attempt.
func (o outcome) retryable() bool {
	switch o {
	case outcomeThrottled, outcomeServerError, outcomeTimeout, outcomeTransport, outcomeBadResponse, outcomeHTTPError, outcomeNotReady:
		return true
	}
	return false
}

// endpointFault reports whether the outcome counts against the endpoint's
// health (range refusals and application errors do not).
func (o outcome) endpointFault() bool {
	return o.retryable() && o != outcomeNotReady
}

// IsRetryable reports whether err is worth retrying later: transport
// failures, timeouts, HTTP 429/408/5xx, rate-limit answers, malformed
// responses and blocks no endpoint serves yet. Context cancellation, chain
// mismatches, range exhaustion and JSON-RPC application errors are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrChainMismatch) ||
		errors.Is(err, ErrRangeExhausted) || errors.Is(err, ErrConfig) {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) && he.StatusCode < 500 && he.StatusCode != 429 && he.StatusCode != 408 {
		return false
	}
	return classify(err).retryable()
}
