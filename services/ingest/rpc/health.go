package rpc

import (
	"fmt"
	"sync"
	"time"
)

// latencyBuckets are the bounds, in seconds, of rpc_request_duration: from
// a local node's millisecond answers to a provider's 30s timeout.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// poolHealth remembers the outcome of the pool's last attempt, for Health.
type poolHealth struct {
	mu       sync.Mutex
	at       time.Time
	method   string
	endpoint string // host only, like the metric label
	outcome  outcome
	fails    int // consecutive attempts that failed through the endpoint's fault
}

// note records one attempt. Only endpoint faults (transport, timeouts, 5xx,
// 429, malformed answers) count as failures: a range refusal or a revert is
// an answer.
func (h *poolHealth) note(at time.Time, method, endpoint string, o outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at, h.method, h.endpoint, h.outcome = at, method, endpoint, o
	if o != outcomeOK && o.endpointFault() {
		h.fails++
		return
	}
	h.fails = 0
}

// Health returns nil when the pool's last request attempt got an answer
// (any answer but an endpoint fault), or an error naming the method, the
// endpoint's host (never its path or key), the outcome and how many
// attempts in a row failed. It returns an error before the first attempt.
func (c *Client) Health() error {
	h := &c.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.at.IsZero():
		return fmt.Errorf("no RPC request on %s has completed yet", c.cfg.Chain)
	case h.fails > 0:
		return fmt.Errorf("the last %d RPC attempt(s) on %s failed, the latest %s to %s %s ago: %s (check the endpoints in rpc_url/rpc_urls)",
			h.fails, c.cfg.Chain, h.method, h.endpoint, c.now().Sub(h.at).Round(time.Millisecond), h.outcome)
	}
	return nil
}
