package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
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
// there is nothing to answer (notifications). Well-formed bodies of the
// usual shape take the single-pass scanner of fastreq.go; anything it is not
// sure about takes serveSlow, so both give the same answer bytes.
func (c *chainState) serve(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	sc := scannerPool.Get().(*reqScanner)
	defer sc.release()
	if batch, ok := sc.scan(trimmed); ok {
		return c.serveScanned(sc.reqs, batch)
	}
	return c.serveSlow(trimmed)
}

// serveScanned answers the requests the scanner split; elements it marked
// slow go through serveOne as the slow path would.
func (c *chainState) serveScanned(reqs []scannedReq, batch bool) []byte {
	if !batch {
		out, _ := c.appendScanned(nil, &reqs[0])
		return out
	}
	out := make([]byte, 1, 64*len(reqs))
	out[0] = '['
	n := 0
	for i := range reqs {
		mark := len(out)
		if n > 0 {
			out = append(out, ',')
		}
		var answered bool
		if out, answered = c.appendScanned(out, &reqs[i]); !answered {
			out = out[:mark]
			continue
		}
		if n++; n == 1 && len(reqs) > 1 {
			// Room for answers of the size of the first, up to 4 MiB.
			out = slices.Grow(out, min(len(out)*(len(reqs)-1), 4<<20))
		}
	}
	if n == 0 {
		return nil
	}
	return append(out, ']')
}

// appendScanned appends the answer to one scanned request; false for a
// notification (nothing appended).
func (c *chainState) appendScanned(dst []byte, r *scannedReq) ([]byte, bool) {
	if r.slow {
		resp := c.serveOne(r.raw)
		return append(dst, resp...), resp != nil
	}
	if r.id == nil {
		return dst, false // a notification: every method is read-only
	}
	// The scanner only passes ids that are a number, a string or null, which
	// json.Compact leaves as they are.
	return c.appendReply(dst, r.id, r.method, r.params, nil), true
}

// serveSlow answers a trimmed body with encoding/json: the reference the
// scanner's answers are tested against, and the path for any body it is
// not sure about.
func (c *chainState) serveSlow(trimmed []byte) []byte {
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

// serveOne answers one request object with encoding/json; nil for a
// notification.
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
	if len(req.ID) == 0 {
		return nil // a notification: every method is read-only
	}
	ps, perr := params(req.Params)
	if perr != nil {
		return mustJSON(rpcResponse{JSONRPC: "2.0", ID: req.ID, Error: perr})
	}
	var id bytes.Buffer
	if err := json.Compact(&id, req.ID); err != nil {
		return mustJSON(rpcResponse{JSONRPC: "2.0", ID: nullID, Error: &rpcError{Code: codeInvalidRequest, Message: "invalid id"}})
	}
	return c.appendReply(nil, id.Bytes(), req.Method, ps, req.ID)
}

// appendReply runs one call and appends its answer to dst. id is compact;
// errID is the id as received, which error answers carry through
// json.Marshal (nil: id). Results are written by hand: json.Marshal would
// re-validate and compact them, which costs more than building a
// multi-megabyte eth_getLogs answer.
func (c *chainState) appendReply(dst, id []byte, method string, ps []json.RawMessage, errID json.RawMessage) []byte {
	mark := len(dst)
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"result":`...)
	start := len(dst)
	dst, rerr := c.call(dst, method, ps)
	if rerr != nil {
		if errID == nil {
			errID = id
		}
		return append(dst[:mark], mustJSON(rpcResponse{JSONRPC: "2.0", ID: errID, Error: rerr})...)
	}
	if len(dst) == start {
		dst = append(dst, "null"...)
	}
	return append(dst, '}')
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
