package sim

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
)

// DefaultMaxRequestBytes is the default Config.MaxRequestBytes: 8 MiB holds
// a batch of tens of thousands of requests, far above what a client sends.
const DefaultMaxRequestBytes = 8 << 20

// ServerStats are the JSON-RPC server's counters since New, over all
// chains.
type ServerStats struct {
	// OversizedRequests counts request bodies refused for being over
	// Config.MaxRequestBytes.
	OversizedRequests uint64
	// Calls counts the requests answered per method, methods chainsim does
	// not serve under "other"; notifications and requests too malformed to
	// name a method are not counted.
	Calls map[string]uint64
	// Aggregate3 counts runs of Multicall3's aggregate3 (eth_calls of it and
	// aggregate3 calls inside them) and Aggregate3Inner the calls they made.
	Aggregate3, Aggregate3Inner uint64
}

// servedMethods are the methods counted by name in ServerStats.Calls, in
// the order of serverLimits.calls.
var servedMethods = [...]string{"eth_chainId", "net_version", "eth_blockNumber", "web3_clientVersion", "eth_syncing",
	"eth_getBlockByNumber", "eth_getBlockByHash", "eth_getLogs", "eth_call", "other"}

// Indexes into servedMethods.
const (
	mChainID = iota
	mNetVersion
	mBlockNumber
	mClientVersion
	mSyncing
	mBlockByNumber
	mBlockByHash
	mGetLogs
	mCall
	mOther
)

// serverLimits is the server's side of the limits, and its counters.
type serverLimits struct {
	oversized                   atomic.Uint64
	log                         atomic.Pointer[slog.Logger]
	calls                       [len(servedMethods)]atomic.Uint64
	aggregate3, aggregate3Inner atomic.Uint64
}

// ServerStats returns the server's counters.
func (s *Sim) ServerStats() ServerStats {
	st := ServerStats{OversizedRequests: s.limits.oversized.Load(), Calls: map[string]uint64{},
		Aggregate3: s.limits.aggregate3.Load(), Aggregate3Inner: s.limits.aggregate3Inner.Load()}
	for i, m := range servedMethods {
		if v := s.limits.calls[i].Load(); v > 0 {
			st.Calls[m] = v
		}
	}
	return st
}

// SetLogger makes the JSON-RPC server log refused requests to log (nil:
// silent, the default).
func (s *Sim) SetLogger(log *slog.Logger) { s.limits.log.Store(log) }

func (s *Sim) maxRequestBytes() int64 {
	if s.cfg.MaxRequestBytes > 0 {
		return s.cfg.MaxRequestBytes
	}
	return DefaultMaxRequestBytes
}

// readRequest reads the request body, at most maxRequestBytes. Over it, it
// answers 413 with a JSON-RPC error object saying what to do, counts and
// logs the refusal, and returns false.
func (s *Sim) readRequest(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := s.maxRequestBytes()
	// Sized from Content-Length when it is announced, so that a large batch
	// is read without growing the buffer again and again.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), limit)+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	body := buf.Bytes()
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.limits.oversized.Add(1)
		if log := s.limits.log.Load(); log != nil {
			log.Warn("JSON-RPC request refused: body too large", "path", r.URL.Path, "content_length", r.ContentLength, "max_request_bytes", limit)
		}
		msg := fmt.Sprintf("request body is over %d bytes (chainsim max_request_bytes): send smaller JSON-RPC batches", limit)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = w.Write(mustJSON(rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcError{Code: codeInvalidRequest, Message: msg}}))
		return nil, false
	case err != nil:
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return body, true
}
