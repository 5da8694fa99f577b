package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Sentinels wrapped by the errors of this package.
var (
	// ErrChainMismatch: the endpoint serves another chain than configured.
	ErrChainMismatch = errors.New("endpoint serves a different chain")
	// ErrBlockNotFound: the node returned null for a block it should have.
	ErrBlockNotFound = errors.New("block not found")
)

// Error is a failed request with where it happened. URL is already redacted.
type Error struct {
	Chain  string
	Method string
	// From and To are the inclusive block range the request covered; both are
	// zero when the request is not about blocks.
	From, To uint64
	URL      string
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rpc %s on %s (%s)", e.Method, e.Chain, e.URL)
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

// IsRetryable reports whether err is worth retrying: transport failures,
// timeouts, HTTP 429 and 5xx, and JSON-RPC "limit exceeded" answers. Context
// cancellation is never retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrChainMismatch) || errors.Is(err, ErrBlockNotFound) {
		return false
	}
	var he gethrpc.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode == 429 || he.StatusCode >= 500
	}
	var rerr gethrpc.Error
	if errors.As(err, &rerr) {
		// -32005 is the de-facto "limit exceeded / rate limited" code.
		return rerr.ErrorCode() == -32005
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// go-ethereum reports dropped connections and truncated bodies as plain
	// errors from net/http and encoding/json.
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "connection reset") || strings.Contains(s, "connection refused")
}
