package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrConfig is wrapped by Validate errors; the message names the key.
var ErrConfig = errors.New("invalid fault config")

// maxRequestBytes bounds a request body, as sim.DefaultMaxRequestBytes does
// for the simulator behind: a larger one is answered 413.
const maxRequestBytes = 8 << 20

// Config is one simulated provider's behaviour. The zero value injects
// nothing.
type Config struct {
	// Seed drives every random decision.
	Seed int64 `yaml:"seed"`
	// Provider picks the refusal texts (default geth).
	Provider Provider `yaml:"provider"`
	// MaxRange refuses eth_getLogs spanning more blocks (0: no cap).
	MaxRange uint64 `yaml:"max_range"`
	// MaxResults refuses eth_getLogs matching more logs (0: no cap).
	MaxResults int `yaml:"max_results"`
	// Burst429Every starts a burst of Burst429Len HTTP 429 answers on
	// average every Burst429Every requests (0: never).
	Burst429Every int `yaml:"burst_429_every"`
	Burst429Len   int `yaml:"burst_429_len"` // default 3
	// RetryAfter is sent with each 429 (0: no header); RetryAfterDate sends it
	// as an HTTP-date instead of seconds.
	RetryAfter     time.Duration `yaml:"retry_after"`
	RetryAfterDate bool          `yaml:"retry_after_date"`
	// Latency is added to every request.
	Latency time.Duration `yaml:"latency"`
	// The rates are per request, in [0, 1]: HTTP 503; hang for Hang (default
	// 5s, or until the client hangs up) then drop the connection; a
	// truncated JSON body; a result of the wrong type.
	ServerErrorRate float64       `yaml:"server_error_rate"`
	TimeoutRate     float64       `yaml:"timeout_rate"`
	Hang            time.Duration `yaml:"hang"`
	MalformedRate   float64       `yaml:"malformed_rate"`
	WrongTypeRate   float64       `yaml:"wrong_type_rate"`
	// LagBlocks keeps this endpoint's head that many blocks behind.
	LagBlocks uint64 `yaml:"lag_blocks"`
	// BadLogRate is the share of LiquidationCall logs, in [0, 1], that this
	// provider serves corrupted inside an otherwise valid eth_getLogs
	// answer: a topic missing, data cut short or too long, `removed: true`,
	// an absurd amount, or an address topic with non-zero padding. The
	// choice is a hash of (seed, transaction, log index), so a log is
	// corrupted in every answer that holds it, however ranges are split or
	// retried. BadLogs lists them.
	BadLogRate float64 `yaml:"bad_log_rate"`
	// OmitLogBlockTimestamp removes "blockTimestamp" from every log object
	// of this provider's eth_getLogs answers, as older nodes and some hosted
	// providers serve logs: consumers must then take the time from headers.
	OmitLogBlockTimestamp bool `yaml:"omit_log_block_timestamp"`
}

// Validate names the first invalid key.
func (c Config) Validate() error {
	if c.Provider != "" {
		ok := false
		for _, p := range Providers() {
			ok = ok || p == c.Provider
		}
		if !ok {
			return fmt.Errorf("%w: provider: %q is not one of %v", ErrConfig, c.Provider, Providers())
		}
	}
	for key, r := range map[string]float64{"server_error_rate": c.ServerErrorRate, "timeout_rate": c.TimeoutRate,
		"malformed_rate": c.MalformedRate, "wrong_type_rate": c.WrongTypeRate, "bad_log_rate": c.BadLogRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%w: %s: %v is not in [0, 1]", ErrConfig, key, r)
		}
	}
	if c.MaxResults < 0 || c.Burst429Every < 0 || c.Burst429Len < 0 {
		return fmt.Errorf("%w: max_results, burst_429_every and burst_429_len must not be negative", ErrConfig)
	}
	if c.Latency < 0 || c.Hang < 0 || c.RetryAfter < 0 {
		return fmt.Errorf("%w: latency, hang and retry_after must not be negative", ErrConfig)
	}
	return nil
}

// Stats counts what an Injector did.
type Stats struct {
	Requests     int64 // HTTP requests received
	RangeRefused int64 // eth_getLogs refused for the range
	ResultCapped int64 // eth_getLogs refused for the result count
	Throttled    int64 // HTTP 429
	ServerErrors int64 // HTTP 503
	Timeouts     int64 // hung and dropped
	Malformed    int64 // truncated bodies
	WrongTypes   int64 // results of the wrong type
	LagClamped   int64 // answers clamped to the lagged head
	// TimestampsOmitted counts eth_getLogs answers whose logs lost
	// blockTimestamp (OmitLogBlockTimestamp).
	TimestampsOmitted int64
}

// Injector is an http.Handler that injects faults in front of next.
type Injector struct {
	cfg  Config
	next http.Handler

	mu        sync.Mutex
	rng       *rand.Rand
	burstLeft int

	requests, rangeRefused, resultCapped, throttled, serverErrors atomic.Int64
	timeouts, malformed, wrongTypes, lagClamped, stampsOmitted    atomic.Int64

	badMu   sync.Mutex
	badLogs map[string]string // "<tx>:<log index>" → corruption
}

// New wraps next (a JSON-RPC handler such as sim.Handler()).
func New(cfg Config, next http.Handler) (*Injector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Provider == "" {
		cfg.Provider = Geth
	}
	if cfg.Burst429Len == 0 {
		cfg.Burst429Len = 3
	}
	if cfg.Hang == 0 {
		cfg.Hang = 5 * time.Second
	}
	return &Injector{cfg: cfg, next: next, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)), badLogs: map[string]string{}}, nil
}

// Stats returns the counts so far.
func (in *Injector) Stats() Stats {
	return Stats{Requests: in.requests.Load(), RangeRefused: in.rangeRefused.Load(), ResultCapped: in.resultCapped.Load(),
		Throttled: in.throttled.Load(), ServerErrors: in.serverErrors.Load(), Timeouts: in.timeouts.Load(),
		Malformed: in.malformed.Load(), WrongTypes: in.wrongTypes.Load(), LagClamped: in.lagClamped.Load(),
		TimestampsOmitted: in.stampsOmitted.Load()}
}

// decision is what happens to one HTTP request.
type decision struct {
	throttle, serverError, hang, malformed, wrongType bool
}

func (in *Injector) decide() decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	var d decision
	if in.burstLeft > 0 {
		in.burstLeft--
		d.throttle = true
	} else if in.cfg.Burst429Every > 0 && in.rng.IntN(in.cfg.Burst429Every) == 0 {
		in.burstLeft = in.cfg.Burst429Len - 1
		d.throttle = true
	}
	// Always draw every value so that one rate does not shift the others.
	se, to, mf, wt := in.rng.Float64(), in.rng.Float64(), in.rng.Float64(), in.rng.Float64()
	d.serverError = se < in.cfg.ServerErrorRate
	d.hang = to < in.cfg.TimeoutRate
	d.malformed = mf < in.cfg.MalformedRate
	d.wrongType = wt < in.cfg.WrongTypeRate
	return d
}

// ServeHTTP applies the faults and forwards the rest to next.
func (in *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.requests.Add(1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, fmt.Sprintf("reading body (at most %d bytes): %v", maxRequestBytes, err), status)
		return
	}
	d := in.decide()
	if in.cfg.Latency > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(in.cfg.Latency):
		}
	}
	switch {
	case d.throttle:
		in.throttled.Add(1)
		if in.cfg.RetryAfter > 0 {
			if in.cfg.RetryAfterDate {
				// HTTP-dates have one-second resolution: round up.
				w.Header().Set("Retry-After", time.Now().Add(in.cfg.RetryAfter+time.Second).UTC().Format(http.TimeFormat))
			} else {
				w.Header().Set("Retry-After", strconv.FormatFloat(in.cfg.RetryAfter.Seconds(), 'f', -1, 64))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":429,"message":"Your app has exceeded its compute units per second capacity."}}`))
		return
	case d.serverError:
		in.serverErrors.Add(1)
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	case d.hang:
		in.timeouts.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(in.cfg.Hang):
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
		return
	}
	out, status := in.answer(r, body, d.wrongType)
	if status != http.StatusOK {
		w.WriteHeader(status)
		_, _ = w.Write(out)
		return
	}
	if d.malformed && len(out) > 2 {
		in.malformed.Add(1)
		out = out[:len(out)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

type rpcRequest struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// answer serves a single request or a batch through next, rewriting what
// the provider would refuse or clamp.
func (in *Injector) answer(r *http.Request, body []byte, wrongType bool) ([]byte, int) {
	trimmed := bytes.TrimSpace(body)
	batch := len(trimmed) > 0 && trimmed[0] == '['
	var reqs []rpcRequest
	if batch {
		if err := json.Unmarshal(trimmed, &reqs); err != nil {
			return in.forward(r, body)
		}
	} else {
		var one rpcRequest
		if err := json.Unmarshal(trimmed, &one); err != nil {
			return in.forward(r, body)
		}
		reqs = []rpcRequest{one}
	}
	var head uint64
	if in.cfg.LagBlocks > 0 {
		h, err := in.head(r)
		if err != nil {
			return []byte(err.Error()), http.StatusBadGateway
		}
		head = h - min(h, in.cfg.LagBlocks)
	}
	resps := make([]rpcResponse, len(reqs))
	for i := range reqs {
		resps[i] = in.serveOne(r, &reqs[i], head)
	}
	if wrongType && len(resps) > 0 {
		// The first result becomes an object where a string or array is due.
		for i := range resps {
			if resps[i].Error == nil {
				in.wrongTypes.Add(1)
				resps[i].Result = json.RawMessage(`{"unexpected":true}`)
				break
			}
		}
	}
	var out []byte
	var err error
	if batch {
		out, err = json.Marshal(resps)
	} else {
		out, err = json.Marshal(resps[0])
	}
	if err != nil {
		return []byte(err.Error()), http.StatusInternalServerError
	}
	return out, http.StatusOK
}

// serveOne answers one request; lagHead is the lagged head (0: no lag).
func (in *Injector) serveOne(r *http.Request, q *rpcRequest, lagHead uint64) rpcResponse {
	resp := rpcResponse{JSONRPC: "2.0", ID: q.ID}
	fail := func(code int, msg string) rpcResponse {
		resp.Error = &rpcError{Code: code, Message: msg}
		return resp
	}
	switch q.Method {
	case "eth_blockNumber":
		if lagHead > 0 {
			in.lagClamped.Add(1)
			resp.Result = quantity(lagHead)
			return resp
		}
	case "eth_getBlockByNumber":
		if lagHead > 0 && len(q.Params) > 0 {
			if tag := tagOf(q.Params[0]); tag == "safe" || tag == "finalized" {
				resp = in.through(r, q)
				var h struct {
					Number string `json:"number"`
				}
				if resp.Error == nil && json.Unmarshal(resp.Result, &h) == nil {
					if n, err := strconv.ParseUint(strings.TrimPrefix(h.Number, "0x"), 16, 64); err == nil && n > lagHead {
						in.lagClamped.Add(1)
						q.Params[0] = quantity(lagHead)
						return in.through(r, q)
					}
				}
				return resp
			}
			if n, ok := number(q.Params[0], lagHead); ok && n > lagHead {
				in.lagClamped.Add(1)
				resp.Result = json.RawMessage("null")
				return resp
			} else if ok {
				q.Params[0] = quantity(n) // tags resolve against the lagged head
			}
		}
	case "eth_call":
		if lagHead > 0 && len(q.Params) > 1 {
			if n, ok := number(q.Params[1], lagHead); ok && n > lagHead {
				in.lagClamped.Add(1)
				return fail(-32000, "header not found")
			}
		}
	case "eth_getLogs":
		resp := in.getLogs(r, q, lagHead)
		if in.cfg.OmitLogBlockTimestamp && resp.Error == nil {
			if out, ok := omitBlockTimestamps(resp.Result); ok {
				in.stampsOmitted.Add(1)
				resp.Result = out
			}
		}
		return resp
	}
	return in.through(r, q)
}

func (in *Injector) getLogs(r *http.Request, q *rpcRequest, lagHead uint64) rpcResponse {
	resp := rpcResponse{JSONRPC: "2.0", ID: q.ID}
	var f struct {
		FromBlock json.RawMessage `json:"fromBlock"`
		ToBlock   json.RawMessage `json:"toBlock"`
		BlockHash json.RawMessage `json:"blockHash"`
	}
	if len(q.Params) != 1 || json.Unmarshal(q.Params[0], &f) != nil || len(f.BlockHash) > 0 {
		return in.through(r, q)
	}
	head := lagHead
	if head == 0 {
		var err error
		if head, err = in.head(r); err != nil {
			resp.Error = &rpcError{Code: -32000, Message: err.Error()}
			return resp
		}
	}
	from, ok1 := number(f.FromBlock, head)
	to, ok2 := number(f.ToBlock, head)
	if !ok1 || !ok2 || from > to {
		return in.through(r, q)
	}
	if in.cfg.MaxRange > 0 && to-from+1 > in.cfg.MaxRange {
		in.rangeRefused.Add(1)
		code, msg := rangeError(in.cfg.Provider, from, to, in.cfg.MaxRange)
		resp.Error = &rpcError{Code: code, Message: msg}
		return resp
	}
	if lagHead > 0 && to > lagHead {
		in.lagClamped.Add(1)
		if from > lagHead {
			resp.Result = json.RawMessage("[]")
			return resp
		}
		// A lagging node answers with what it has, silently.
		var m map[string]json.RawMessage
		_ = json.Unmarshal(q.Params[0], &m)
		m["toBlock"] = quantity(lagHead)
		q.Params[0], _ = json.Marshal(m)
	}
	resp = in.through(r, q)
	if in.cfg.MaxResults > 0 && resp.Error == nil {
		var logs []struct {
			BlockNumber string `json:"blockNumber"`
		}
		if json.Unmarshal(resp.Result, &logs) == nil && len(logs) > in.cfg.MaxResults {
			in.resultCapped.Add(1)
			// The last block whose logs all fit: before the block of the
			// first log over the cap (at least from).
			over, _ := strconv.ParseUint(strings.TrimPrefix(logs[in.cfg.MaxResults].BlockNumber, "0x"), 16, 64)
			okTo := from
			if over > from {
				okTo = over - 1
			}
			code, msg := resultError(in.cfg.Provider, from, to, okTo, in.cfg.MaxResults)
			return rpcResponse{JSONRPC: "2.0", ID: q.ID, Error: &rpcError{Code: code, Message: msg}}
		}
	}
	if in.cfg.BadLogRate > 0 && resp.Error == nil {
		resp.Result = in.corruptLogs(resp.Result)
	}
	return resp
}

// omitBlockTimestamps removes "blockTimestamp" from each log object of an
// eth_getLogs result; false when there was none to remove or the result is
// not a list of objects (it then passes unchanged).
func omitBlockTimestamps(result json.RawMessage) (json.RawMessage, bool) {
	if !bytes.Contains(result, []byte(`"blockTimestamp"`)) {
		return result, false
	}
	var logs []map[string]json.RawMessage
	if json.Unmarshal(result, &logs) != nil {
		return result, false
	}
	for _, l := range logs {
		delete(l, "blockTimestamp")
	}
	out, err := json.Marshal(logs)
	if err != nil {
		return result, false
	}
	return out, true
}

// through forwards one request to next and returns its answer.
func (in *Injector) through(r *http.Request, q *rpcRequest) rpcResponse {
	body, _ := json.Marshal(q)
	out, status := in.forward(r, body)
	var resp rpcResponse
	if status != http.StatusOK || json.Unmarshal(out, &resp) != nil {
		return rpcResponse{JSONRPC: "2.0", ID: q.ID, Error: &rpcError{Code: -32603, Message: "backend: " + strings.TrimSpace(string(out))}}
	}
	return resp
}

func (in *Injector) forward(r *http.Request, body []byte) ([]byte, int) {
	req := httptest.NewRequestWithContext(r.Context(), http.MethodPost, r.URL.String(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	in.next.ServeHTTP(rec, req)
	return rec.Body.Bytes(), rec.Code
}

// head asks next for the real head.
func (in *Injector) head(r *http.Request) (uint64, error) {
	resp := in.through(r, &rpcRequest{JSONRPC: "2.0", ID: json.RawMessage("1"), Method: "eth_blockNumber"})
	var s string
	if resp.Error != nil || json.Unmarshal(resp.Result, &s) != nil {
		return 0, fmt.Errorf("reading the backend head failed")
	}
	return strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
}

// number resolves a block parameter (hex quantity or tag) against head.
func number(raw json.RawMessage, head uint64) (uint64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	switch s {
	case "latest", "pending", "safe", "finalized", "":
		// "safe" and "finalized" lag the head further on the backend; a lagged
		// node's tags are at most its head.
		return head, s == "latest" || s == "pending" || s == ""
	case "earliest":
		return 0, true
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	return n, err == nil
}

func quantity(n uint64) json.RawMessage {
	return json.RawMessage(`"0x` + strconv.FormatUint(n, 16) + `"`)
}

func tagOf(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// File is the YAML document of chainsim's --faults flag: named simulated
// providers, each served at /<name>/<chain>.
//
//	providers:
//	  alchemy: {provider: alchemy, max_range: 2000, burst_429_every: 25, retry_after: 1s, malformed_rate: 0.02}
//	  lagging: {lag_blocks: 120}
type File struct {
	Providers map[string]Config `yaml:"providers"`
}

// Route serves base at /<chain> and each named injector at /<name>/<chain>
// (the name prefix is stripped before the injector and base see the path).
func Route(base http.Handler, named map[string]*Injector) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if name, rest, ok := strings.Cut(p, "/"); ok {
			if in, found := named[name]; found {
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/" + rest
				in.ServeHTTP(w, r2)
				return
			}
		}
		base.ServeHTTP(w, r)
	})
}

// NewNamed builds one Injector per entry of f over base; each provider's
// seed is offset by its position in name order so that two providers do not
// fail in lockstep.
func NewNamed(f File, base http.Handler) (map[string]*Injector, error) {
	names := make([]string, 0, len(f.Providers))
	for n := range f.Providers {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make(map[string]*Injector, len(names))
	for i, n := range names {
		cfg := f.Providers[n]
		cfg.Seed += int64(i)
		in, err := New(cfg, base)
		if err != nil {
			return nil, fmt.Errorf("providers.%s: %w", n, err)
		}
		out[n] = in
	}
	return out, nil
}
