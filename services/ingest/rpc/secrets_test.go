package rpc

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
)

// TestNoKeyInMetricsErrorsOrLogs: endpoints with an API key in the path, the
// query and the user info, failing in every way (refused at start, HTTP 401
// whose body echoes the key, a JSON-RPC error echoing it, answers over the
// limits, a mismatched batch), never show the key, whole or in part, in the
// Prometheus output of rpc_requests_total and rpc_responses_rejected_total,
// in error texts, or in log lines.
func TestNoKeyInMetricsErrorsOrLogs(t *testing.T) {
	const key = "k3ySECRET0123456789abcdef"
	pathNode, queryNode := newFakeNode(t, ""), newFakeNode(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/rpc/" + key
	_ = ln.Close() // connection refused from now on
	withUser := func(raw string) string {
		u, _ := url.Parse(raw)
		return "http://alice:" + key + "@" + u.Host + "/?apikey=" + key
	}
	urls := []secret.URL{secret.URL(pathNode.srv.URL + "/v2/" + key), secret.URL(withUser(queryNode.srv.URL)), secret.URL(dead)}

	tel, err := telemetry.New("ingest")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := testConfig(urls...)
	cfg.MaxAttempts = 3
	cfg.MaxResponseBytes = 2 << 10
	c, err := newClient(context.Background(), cfg, log, tel.Meter(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	echo := func(node *fakeNode) {
		node.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
			switch method {
			case "eth_getLogs":
				http.Error(w, "invalid API key "+key+" for this network", http.StatusUnauthorized)
			case "eth_call":
				_, _ = w.Write([]byte(`[{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"key ` + key + ` is not allowed to call"}}]`))
			case "eth_getBlockByNumber":
				_, _ = w.Write([]byte(`[{"jsonrpc":"2.0","id":9,"result":null}]`)) // not the id asked
			default:
				return false
			}
			return true
		})
	}
	echo(pathNode)
	echo(queryNode)
	var errs []string
	if _, err := c.Logs(context.Background(), 10, 20, pool, nil); err != nil {
		errs = append(errs, err.Error())
	}
	res, err := c.CallBatch(context.Background(), []Call{{To: pool[0], Block: 10}})
	if err != nil {
		errs = append(errs, err.Error())
	} else {
		errs = append(errs, res[0].Err.Error())
	}
	if _, err := c.HeadersBatch(context.Background(), []uint64{10}); err != nil {
		errs = append(errs, err.Error())
	}
	// Over the response limit.
	pathNode.setFault(func(_ int64, method string, w http.ResponseWriter) bool {
		if method != "eth_getLogs" {
			return false
		}
		_, _ = w.Write([]byte(paddedAnswer(4 << 10)))
		return true
	})
	queryNode.setFault(nil)
	queryNode.head.Store(5) // lags: the requests go to pathNode
	if _, err := c.Logs(context.Background(), 30, 30, pool, nil); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) != 4 {
		t.Fatalf("want 4 failures, got %d: %q", len(errs), errs)
	}

	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	prom := rec.Body.String()
	for _, want := range []string{"rpc_requests_total{", "rpc_responses_rejected_total{", strings.TrimPrefix(pathNode.srv.URL, "http://")} {
		if !strings.Contains(prom, want) {
			t.Fatalf("metrics lack %q:\n%s", want, prom)
		}
	}
	all := map[string]string{"metrics": prom, "errors": strings.Join(errs, "\n"), "logs": logs.String(),
		"endpoints": strings.Join(c.Endpoints(), " ")}
	for what, text := range all {
		for _, part := range []string{key, key[:12], url.QueryEscape(key), "alice:"} {
			if strings.Contains(text, part) {
				t.Errorf("%s show %q:\n%s", what, part, text)
			}
		}
	}
	for _, want := range []string{"invalid API key", "is not allowed to call", "rpc_max_response_bytes", "not requested"} {
		if !strings.Contains(all["errors"], want) {
			t.Errorf("errors lost %q (the scrubbing must keep the rest of the text):\n%s", want, all["errors"])
		}
	}
	if !strings.Contains(logs.String(), "rpc endpoint unavailable at start") {
		t.Errorf("the dead endpoint was not logged:\n%s", logs.String())
	}
}
