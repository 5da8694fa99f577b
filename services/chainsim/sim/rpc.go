package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// JSON-RPC 2.0 error codes, as geth and the hosted providers use them.
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeServer         = -32000 // geth's generic error: unknown block, bad range
	codeLimitExceeded  = -32005 // Infura's range and result caps
	codeReverted       = 3      // geth's execution reverted
)

// rpcError is a JSON-RPC error object; it is also a Go error inside handlers.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message) }

func errParams(format string, args ...any) *rpcError {
	return &rpcError{Code: codeInvalidParams, Message: fmt.Sprintf(format, args...)}
}

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

var nullID = json.RawMessage("null")

// Handler returns the JSON-RPC endpoint. The URL path selects the chain by
// slug or id ("/polygon", "/137"); requests are JSON-RPC 2.0 over POST,
// single or batched (a JSON array, answered with an array).
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := s.chainForPath(r.URL.Path)
		if c == nil {
			http.Error(w, fmt.Sprintf("unknown chain %q: use /<slug> or /<chain id> of %v", r.URL.Path, s.order), http.StatusNotFound)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "JSON-RPC needs POST", http.StatusMethodNotAllowed)
			return
		}
		body, ok := s.readRequest(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		out := c.serve(body)
		if out == nil { // notifications only
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write(out)
	})
}

// chainForPath resolves "/polygon", "/137" or "/polygon/" to a chain.
func (s *Sim) chainForPath(path string) *chainState {
	p := strings.ToLower(strings.Trim(path, "/"))
	if id, err := strconv.ParseUint(p, 10, 64); err == nil {
		return s.chains[id]
	}
	for _, c := range s.chains {
		if c.slug == p {
			return c
		}
	}
	return nil
}

// serve answers one HTTP body: a request or a batch. It returns nil when
// there is nothing to answer (notifications).
func (c *chainState) serve(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(trimmed, &batch); err != nil {
			return mustJSON(rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcError{Code: codeParse, Message: "parse error: " + err.Error()}})
		}
		if len(batch) == 0 {
			return mustJSON(rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcError{Code: codeInvalidRequest, Message: "empty batch"}})
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		n := 0
		for _, raw := range batch {
			resp := c.serveOne(raw)
			if resp == nil {
				continue
			}
			if n > 0 {
				buf.WriteByte(',')
			}
			buf.Write(resp)
			n++
		}
		if n == 0 {
			return nil
		}
		buf.WriteByte(']')
		return buf.Bytes()
	}
	return c.serveOne(trimmed)
}

// serveOne answers one request object; nil for a notification.
func (c *chainState) serveOne(raw json.RawMessage) []byte {
	var req rpcRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		code := codeParse
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			code = codeInvalidRequest
		}
		return mustJSON(rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcError{Code: code, Message: "invalid request: " + err.Error()}})
	}
	if req.Method == "" {
		id := req.ID
		if len(id) == 0 {
			id = nullID
		}
		return mustJSON(rpcResponse{JSONRPC: "2.0", ID: id, Error: &rpcError{Code: codeInvalidRequest, Message: "invalid request: no method"}})
	}
	result, rerr := c.call(req.Method, req.Params)
	if len(req.ID) == 0 {
		return nil
	}
	if rerr != nil {
		return mustJSON(rpcResponse{JSONRPC: "2.0", ID: req.ID, Error: rerr})
	}
	if len(result) == 0 {
		result = json.RawMessage("null")
	}
	// Written by hand: json.Marshal would re-validate and compact the result,
	// which costs more than building a multi-megabyte eth_getLogs answer.
	var id bytes.Buffer
	if err := json.Compact(&id, req.ID); err != nil {
		return mustJSON(rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcError{Code: codeInvalidRequest, Message: "invalid id"}})
	}
	out := make([]byte, 0, len(result)+id.Len()+40)
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id.Bytes()...)
	out = append(out, `,"result":`...)
	out = append(out, result...)
	return append(out, '}')
}

// params splits a params array; absent params are an empty list.
func params(raw json.RawMessage) ([]json.RawMessage, *rpcError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var ps []json.RawMessage
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, errParams("params must be an array: %v", err)
	}
	return ps, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value marshalled here is built from plain types.
		panic(fmt.Sprintf("chainsim: marshalling response: %v", err))
	}
	return b
}
