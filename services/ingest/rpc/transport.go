package rpc

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// request is one JSON-RPC call.
type request struct {
	Method string
	Params []any
}

// response is one JSON-RPC answer: Result or Err. Over HTTP, Result is a
// sub-slice of the answer body (decodeAnswers).
type response struct {
	Result json.RawMessage
	Err    *JSONError
}

// transport sends requests to one endpoint. batch false sends reqs[0] as a
// single object; true sends a JSON array. The answers come back in the order
// of reqs. Errors are *HTTPError, ErrBadResponse or transport errors, never
// holding the endpoint URL.
type transport interface {
	call(ctx context.Context, reqs []request, batch bool) ([]response, error)
	close()
}

// httpTransport is JSON-RPC over HTTP POST. It is ours rather than
// go-ethereum's so that Retry-After and malformed bodies can be seen.
type httpTransport struct {
	url    string
	client *http.Client
	now    func() time.Time
	// maxBytes bounds an answer body (Limits.MaxResponseBytes).
	maxBytes int64
}

func (t *httpTransport) close() { t.client.CloseIdleConnections() }

func (t *httpTransport) call(ctx context.Context, reqs []request, batch bool) ([]response, error) {
	body, err := appendRequests(make([]byte, 0, requestsSize(reqs)), reqs, batch)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("building request: invalid endpoint URL")
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(hreq)
	if err != nil {
		// *url.Error prints the URL, which may hold the key: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		return nil, &HTTPError{StatusCode: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), t.now()),
			Body: truncate(strings.TrimSpace(string(raw)), 200)}
	}
	raw, err := readBody(resp.Body, resp.ContentLength, cmp.Or(t.maxBytes, DefaultMaxResponseBytes), reqs[0].Method)
	if err != nil {
		return nil, err
	}
	return decodeAnswers(raw, len(reqs), batch)
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP-date
// (RFC 9110 §10.2.3). Unparseable or past values are zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// wsTransport adapts go-ethereum's client for ws:// and wss:// endpoints.
// Retry-After does not exist there; everything else is classified alike.
type wsTransport struct{ c *gethrpc.Client }

func (t *wsTransport) close() { t.c.Close() }

func (t *wsTransport) call(ctx context.Context, reqs []request, batch bool) ([]response, error) {
	res := make([]json.RawMessage, len(reqs))
	elems := make([]gethrpc.BatchElem, len(reqs))
	for i, r := range reqs {
		elems[i] = gethrpc.BatchElem{Method: r.Method, Args: r.Params, Result: &res[i]}
	}
	var err error
	if batch {
		err = t.c.BatchCallContext(ctx, elems)
	} else {
		err = t.c.CallContext(ctx, &res[0], reqs[0].Method, reqs[0].Params...)
		elems[0].Error = err
		err = nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]response, len(reqs))
	for i, e := range elems {
		if e.Error == nil {
			if len(res[i]) == 0 {
				res[i] = json.RawMessage("null")
			}
			out[i] = response{Result: res[i]}
			continue
		}
		var rerr gethrpc.Error
		if !errors.As(e.Error, &rerr) {
			return nil, e.Error
		}
		je := &JSONError{Code: rerr.ErrorCode(), Message: rerr.Error()}
		var de gethrpc.DataError
		if errors.As(e.Error, &de) {
			je.Data, _ = json.Marshal(de.ErrorData())
		}
		out[i] = response{Err: je}
	}
	return out, nil
}
