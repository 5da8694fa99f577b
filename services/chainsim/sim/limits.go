package sim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
)

// DefaultMaxRequestBytes is the default Config.MaxRequestBytes: 8 MiB holds
// a batch of tens of thousands of requests, far above what a client sends.
const DefaultMaxRequestBytes = 8 << 20

// ServerStats are the JSON-RPC server's counters since New.
type ServerStats struct {
	// OversizedRequests counts request bodies refused for being over
	// Config.MaxRequestBytes.
	OversizedRequests uint64
}

// serverLimits is the server's side of the limits.
type serverLimits struct {
	oversized atomic.Uint64
	log       atomic.Pointer[slog.Logger]
}

// ServerStats returns the server's counters.
func (s *Sim) ServerStats() ServerStats {
	return ServerStats{OversizedRequests: s.limits.oversized.Load()}
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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
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
