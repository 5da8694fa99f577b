package rpc

import (
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// tokenBucket is a rate limiter: rate tokens per second, burst at most.
// reserve takes one token and returns how long to wait before using it.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64) *tokenBucket {
	if rate <= 0 {
		return nil
	}
	b := max(1, rate)
	return &tokenBucket{rate: rate, burst: b, tokens: b}
}

// reserve takes a token at now; the caller waits the returned duration.
// Tokens may go negative: later callers queue behind earlier ones.
func (b *tokenBucket) reserve(now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// endpoint is one RPC URL of the pool with its health.
type endpoint struct {
	idx      int
	url      secret.URL
	name     string // redacted URL, for errors and logs
	host     string // host only, the metric label
	t        transport
	limiter  *tokenBucket
	fullMask []string // raw URL forms to scrub from error texts
	keyMask  []string // parts of the URL that may be a key on their own (keyParts)

	mu           sync.Mutex
	head         uint64
	headAt       time.Time // when head was read; zero: never
	laggingSince time.Time
	demotedUntil time.Time
	demoteReason string
	notBefore    time.Time // backoff / Retry-After
	consecFails  int
	window       []bool // last FailWindow outcomes, true = failed
	windowPos    int
	windowLen    int
}

func newEndpoint(idx int, u secret.URL, t transport, p Policy) *endpoint {
	e := &endpoint{idx: idx, url: u, name: u.String(), t: t, limiter: newTokenBucket(p.RateLimit), window: make([]bool, p.FailWindow)}
	e.host = "unknown"
	e.fullMask = []string{u.Reveal()}
	if pu, err := url.Parse(u.Reveal()); err == nil {
		e.host = pu.Host
		e.fullMask = append(e.fullMask, pu.String(), pu.Redacted())
		if pu.Path != "" && pu.Path != "/" {
			e.fullMask = append(e.fullMask, pu.Path)
		}
		if pu.RawQuery != "" {
			e.fullMask = append(e.fullMask, pu.RawQuery)
		}
		if pu.User != nil {
			e.fullMask = append(e.fullMask, pu.User.String())
		}
		e.keyMask = keyParts(pu)
	}
	return e
}

// demoted reports whether e should be avoided at now.
func (e *endpoint) demoted(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return now.Before(e.demotedUntil)
}

// record notes the outcome of a call; it returns a demotion reason when the
// failures in the window reach the threshold.
func (e *endpoint) record(now time.Time, failed bool, p Policy, backoff func(n int) time.Duration, retryAfter time.Duration) (demoted string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !failed {
		e.consecFails = 0
	} else {
		e.consecFails++
		wait := max(backoff(e.consecFails), min(retryAfter, p.MaxBackoff))
		e.notBefore = now.Add(wait)
	}
	if len(e.window) == 0 {
		return ""
	}
	e.window[e.windowPos] = failed
	e.windowPos = (e.windowPos + 1) % len(e.window)
	e.windowLen = min(e.windowLen+1, len(e.window))
	fails := 0
	for i := 0; i < e.windowLen; i++ {
		if e.window[i] {
			fails++
		}
	}
	if failed && fails >= p.FailThreshold && !now.Before(e.demotedUntil) {
		e.demotedUntil = now.Add(p.DemoteFor)
		e.demoteReason = "failures"
		clear(e.window)
		e.windowLen, e.windowPos = 0, 0
		return "failed " + strconv.Itoa(fails) + " of its last " + strconv.Itoa(len(e.window)) + " calls"
	}
	return ""
}

// setHead records e's head at now against the best known head; it returns a
// demotion reason when e has lagged more than LagBlocks for LagFor.
func (e *endpoint) setHead(now time.Time, head, best uint64, p Policy) (demoted string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.head, e.headAt = head, now
	if best <= head || best-head <= p.LagBlocks {
		e.laggingSince = time.Time{}
		return ""
	}
	if e.laggingSince.IsZero() {
		e.laggingSince = now
	}
	if now.Sub(e.laggingSince) >= p.LagFor && !now.Before(e.demotedUntil) {
		e.demotedUntil = now.Add(p.DemoteFor)
		e.demoteReason = "lag"
		e.laggingSince = time.Time{}
		return "lagged " + strconv.Itoa(int(best-head)) + " blocks behind for " + p.LagFor.String()
	}
	return ""
}

func (e *endpoint) snapshot() (head uint64, headAt, notBefore, demotedUntil time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.head, e.headAt, e.notBefore, e.demotedUntil
}
