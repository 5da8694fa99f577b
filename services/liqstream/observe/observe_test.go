package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/chainsim/faults"
	"github.com/liqstream/liqstream/services/chainsim/sim"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/ingest/multicall"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/lib/telemetry"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
)

// EnvPrometheus names the Prometheus server binary (Debian package
// prometheus); `make test` sets it. Unset, the test skips.
const EnvPrometheus = "LIQSTREAM_TEST_PROMETHEUS"

// scrapeInterval is the test Prometheus' scrape and rule interval.
const scrapeInterval = time.Second

var deployDir = filepath.Join("..", "..", "..", "deploy")

func prometheusBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv(EnvPrometheus)
	if p == "" {
		t.Skipf("needs the Prometheus server: install Debian's prometheus package (scripts/install-deps.sh) and set %s=/usr/bin/prometheus, as `make test` does", EnvPrometheus)
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("%s=%s: %v (install Debian's prometheus package: scripts/install-deps.sh)", EnvPrometheus, p, err)
	}
	return p
}

// counters must rise between two queries at least two scrape intervals
// apart; each query is a PromQL sum over the series the issue names (with
// the labels that must be on them).
var counters = []struct{ name, query string }{
	{"events_published_total{chain,protocol}", `sum(events_published_total{job="ingest",chain="ethereum",protocol="aave-v3"})`},
	{"events_stored_total", `sum(events_stored_total{job="aggregator"})`},
	{"rpc_requests_total{method,endpoint,outcome}", `sum(rpc_requests_total{job="ingest",method="eth_getLogs",endpoint!="",outcome="ok"})`},
	{"rpc_requests_total failures", `sum(rpc_requests_total{job="ingest",outcome="server_error"})`},
	{"RPC latency (rpc_request_duration_seconds)", `sum(rpc_request_duration_seconds_count{job="ingest",method!="",endpoint!="",outcome!=""})`},
	{"getLogs range size (getlogs_range_blocks)", `sum(getlogs_range_blocks_count{job="ingest",chain="ethereum"})`},
	{"insert latency (insert_latency_seconds)", `sum(insert_latency_seconds_count{job="aggregator"})`},
	{"batch size (batch_size)", `sum(batch_size_count{job="aggregator"})`},
	{"DLQ counts (dlq_records_total)", `sum(dlq_records_total{job="aggregator",reason="empty_value"})`},
	{"ingest dead letters (decode_errors_total)", `sum(decode_errors_total{job="ingest"})`},
	{"reorgs (reorgs_detected_total)", `sum(reorgs_detected_total{job="ingest",chain="ethereum"})`},
	{"retractions (retractions_published_total)", `sum(retractions_published_total{job="ingest",chain="ethereum"})`},
	{"price fallbacks (price_fallback_latest_total)", `sum(price_fallback_latest_total{job="ingest",chain="ethereum"})`},
}

// gauges are not monotonic: each must be scraped afresh between the two
// queries (its sample timestamp rises) and hold a plausible value.
var gauges = []struct {
	name, query string
	lo, hi      float64
}{
	{"head lag blocks (ingest_head_lag_blocks)", `ingest_head_lag_blocks{job="ingest",chain="ethereum"}`, 0, 5000},
	{"head lag seconds (ingest_head_lag_seconds)", `ingest_head_lag_seconds{job="ingest",chain="ethereum"}`, 0, 5000 * 12},
	{"head lag bound (ingest_head_lag_limit_blocks)", `ingest_head_lag_limit_blocks{job="ingest",chain="ethereum"}`, 128, 128},
	{"consumer_lag_records", `consumer_lag_records{job="aggregator"}`, 0, 1e6},
}

// emptyPanels may have no data in this run (none at present).
var emptyPanels = map[string]bool{}

// TestPrometheusScrapesThePipeline runs chainsim, one ingest (follow mode)
// and the aggregator in-process, each service with its own /metrics server
// on loopback, and a real Prometheus (child process, 1s scrapes, the alert
// rules of deploy/prometheus loaded) scraping them. While the pipeline
// runs, a driver advances the chain, reorgs it 150 blocks deep every 1.5s
// (past the 64-block finality, so ingest retracts published events),
// produces an empty record to the liquidations topic every 300ms (the
// aggregator dead-letters it), and the RPC middleware answers oracle calls
// at even blocks with "missing trie node" (ingest falls back to the latest
// price) and every 20th eth_getLogs with HTTP 503, and a fifth of the
// liquidation logs arrive corrupted (ingest dead-letters them). The test
// queries Prometheus'
// HTTP API twice, at least two scrape intervals apart, and requires every
// named counter to rise and every gauge to be scraped afresh; then every
// query of the pipeline-health dashboard must return data, and every alert
// rule must evaluate without error.
func TestPrometheusScrapesThePipeline(t *testing.T) {
	promBin := prometheusBinary(t)
	brokers := testsupport.KafkaBrokers(t)
	chAddr := testsupport.ClickHouseAddr(t)
	seed := testsupport.Seed(t)
	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("LIQSTREAM_TEST_VERBOSE") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if _, err := migrate.Run(ctx, conn, db, log); err != nil {
		t.Fatal(err)
	}

	// chainsim, Ethereum only, 4x the demo volume; the chain starts on its
	// busiest day with an odd head that moves in even steps, so the latest
	// block (the price fallback's) is never a "pruned" even block.
	s, err := sim.New(sim.Config{Seed: seed, Scale: 4, Chains: []uint64{1}})
	if err != nil {
		t.Fatal(err)
	}
	var busiest time.Time
	var most uint64
	for _, d := range s.Truth().Days(1) {
		if d.Events > most {
			most, busiest = d.Events, d.Day
		}
	}
	from := s.BlockAt(1, busiest)
	head := from + 301
	s.SetHead(1, head)
	// A fifth of the liquidation logs arrive corrupted (ingest dead-letters them).
	bad, err := faults.New(faults.Config{Seed: 1, BadLogRate: 0.2}, s.Handler())
	if err != nil {
		t.Fatal(err)
	}
	node := &prunedNode{next: bad, oracle: strings.ToLower(s.Oracle(1).Hex())}
	rpcSrv := httptest.NewServer(node)
	defer rpcSrv.Close()

	prefix := testsupport.UniqueName("observe") + "."
	topic, dlq := prefix+topics.Liquidations, prefix+topics.LiquidationsDLQ
	kcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		_, _ = kadm.NewClient(kcl).DeleteTopics(dctx, topic, dlq, prefix+topics.IngestCheckpoints)
	}()

	// ingest, follow mode, with its own metrics server.
	icfg := ingest.DefaultConfig()
	icfg.Chain, icfg.RPCURL = "ethereum", secret.URL(rpcSrv.URL+"/ethereum")
	icfg.From, icfg.Follow = fmt.Sprint(from), true
	icfg.PollInterval, icfg.LogRange, icfg.Concurrency = 20*time.Millisecond, 50, 2
	icfg.RPC.MaxAttempts, icfg.RPC.BaseBackoff, icfg.RPC.MaxBackoff = 4, 5*time.Millisecond, 50*time.Millisecond
	icfg.ProgressInterval = time.Hour
	icfg.Kafka.Brokers, icfg.Kafka.TopicPrefix, icfg.Kafka.Replication = brokers, prefix, -1
	itel, err := telemetry.New("ingest")
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(icfg, log.With("service", "ingest"), itel.Meter())
	if err != nil {
		t.Fatal(err)
	}

	// aggregator, with its own metrics server.
	acfg := aggregator.DefaultConfig()
	acfg.Kafka.Brokers, acfg.Kafka.Topic, acfg.Kafka.DLQTopic = brokers, topic, dlq
	acfg.Kafka.Group = testsupport.UniqueName("observe_group")
	acfg.ClickHouse.Addr, acfg.ClickHouse.Database = []string{chAddr}, db
	acfg.Batch.MaxWait = 100 * time.Millisecond
	acfg.MetricsAddr = ""
	atel, err := telemetry.New("aggregator")
	if err != nil {
		t.Fatal(err)
	}
	agg, err := aggregator.New(acfg, log.With("service", "aggregator"), atel.Meter())
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	goRun := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(runCtx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				stopRun()
			}
		})
	}
	defer func() {
		stopRun()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%v", err)
		}
	}()
	serve := func(name string, tel *telemetry.Telemetry, ready telemetry.Readiness) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		goRun(name+" metrics", func(ctx context.Context) error {
			return tel.ServeListener(ctx, ln, nil, telemetry.WithReadiness(ready))
		})
		return ln.Addr().String()
	}
	ingestAddr := serve("ingest", itel, in.Ready)
	aggAddr := serve("aggregator", atel, agg.Ready)
	goRun("ingest", in.Run)
	// The aggregator subscribes once ingest created the topics.
	testsupport.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		return in.Progress().Current > from || in.Progress().Err != nil
	}, "ingest published nothing: %+v", in.Progress())
	goRun("aggregator", agg.Run)

	// The driver keeps the pipeline moving until the test ends.
	var reorgs, poison atomic.Int64
	goRun("driver", func(ctx context.Context) error {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			head += 10
			s.SetHead(1, head)
			if i%15 == 0 {
				if _, err := s.Reorg(1, 150, seed+int64(i)); err != nil {
					return err
				}
				reorgs.Add(1)
			}
			if i%3 == 0 {
				if err := kcl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("observe-poison")}).FirstErr(); err != nil && ctx.Err() == nil {
					return fmt.Errorf("producing a poison record: %w", err)
				}
				poison.Add(1)
			}
		}
	})

	prom := startPrometheus(t, promBin, map[string]string{"ingest": ingestAddr, "aggregator": aggAddr})

	// Every series exists (the first reorg, fallback and poison record
	// took place and were scraped).
	var missing []string
	waitUntil(t, 90*time.Second, func() bool {
		missing = missing[:0]
		for _, c := range counters {
			if _, ok := prom.scalar(t, c.query); !ok {
				missing = append(missing, c.name)
			}
		}
		for _, g := range gauges {
			if _, ok := prom.scalar(t, g.query); !ok {
				missing = append(missing, g.name)
			}
		}
		return len(missing) == 0 || runCtx.Err() != nil
	}, func() string { return fmt.Sprintf("series never appeared in Prometheus: %v", missing) })
	if runCtx.Err() != nil {
		return // a stage failed: reported by the deferred check
	}

	// The endpoint label is the host:port, never the URL's path.
	for _, m := range prom.series(t, `rpc_requests_total{job="ingest"}`) {
		if ep := m["endpoint"]; ep != strings.TrimPrefix(rpcSrv.URL, "http://") || m["method"] == "" || m["outcome"] == "" {
			t.Errorf("rpc_requests_total series %v: want method, outcome and endpoint %s", m, strings.TrimPrefix(rpcSrv.URL, "http://"))
		}
	}

	// Two queries at least two scrape intervals apart; the second is
	// repeated (a second later each time) until everything rose.
	type snap struct {
		at     time.Time
		values map[string]float64
	}
	take := func() snap {
		sn := snap{at: time.Now(), values: map[string]float64{}}
		for _, c := range counters {
			sn.values[c.name], _ = prom.scalar(t, c.query)
		}
		for _, g := range gauges {
			sn.values[g.name+" ts"], _ = prom.scalar(t, "max(timestamp("+g.query+"))")
			sn.values[g.name], _ = prom.scalar(t, "max("+g.query+")")
		}
		return sn
	}
	first := take()
	var second snap
	var flat []string
	waitUntil(t, 60*time.Second, func() bool {
		time.Sleep(scrapeInterval)
		if time.Since(first.at) < 2*scrapeInterval {
			return false
		}
		second, flat = take(), nil
		for _, c := range counters {
			if !(second.values[c.name] > first.values[c.name]) {
				flat = append(flat, fmt.Sprintf("%s %v -> %v", c.name, first.values[c.name], second.values[c.name]))
			}
		}
		for _, g := range gauges {
			if !(second.values[g.name+" ts"] > first.values[g.name+" ts"]) {
				flat = append(flat, fmt.Sprintf("%s not scraped again (sample time %v -> %v)", g.name, first.values[g.name+" ts"], second.values[g.name+" ts"]))
			}
		}
		return len(flat) == 0 || runCtx.Err() != nil
	}, func() string { return fmt.Sprintf("between two queries did not rise: %s", strings.Join(flat, "; ")) })
	if runCtx.Err() != nil {
		return
	}
	if gap := second.at.Sub(first.at); gap < 2*scrapeInterval {
		t.Fatalf("queries %s apart, want at least %s", gap, 2*scrapeInterval)
	}
	for _, g := range gauges {
		if v := second.values[g.name]; v < g.lo || v > g.hi || math.IsNaN(v) {
			t.Errorf("%s = %v, want within [%v, %v]", g.name, v, g.lo, g.hi)
		}
	}
	var report []string
	for _, c := range counters {
		report = append(report, fmt.Sprintf("%s %g -> %g", c.name, first.values[c.name], second.values[c.name]))
	}
	t.Logf("%s apart (%d reorgs, %d poison records so far): %s", second.at.Sub(first.at).Round(time.Millisecond), reorgs.Load(), poison.Load(), strings.Join(report, "; "))

	checkDashboard(t, prom)
	checkRules(t, prom)

	for name, addr := range map[string]string{"ingest": ingestAddr, "aggregator": aggAddr} {
		code, body := get(t, "http://"+addr+"/healthz")
		if code != 200 {
			t.Errorf("%s /healthz: %d %q", name, code, body)
		}
		code, body = get(t, "http://"+addr+"/readyz")
		if (code != 200 || body != "ready\n") && (code != 503 || !strings.HasPrefix(body, "not ready: ")) {
			t.Errorf("%s /readyz: %d %q", name, code, body)
		}
	}
}

// checkDashboard runs every query of the pipeline-health dashboard, with
// Grafana's variables set to All and a 30s rate interval, and requires
// data; and the chain variable lists ethereum.
func checkDashboard(t *testing.T, prom *promServer) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "dashboards", "prometheus", "pipeline-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$chain", ".*", "$__rate_interval", "30s")
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			n++
			res := prom.query(t, vars.Replace(tg.Expr))
			if len(res) == 0 && !emptyPanels[p.Title] {
				t.Errorf("dashboard panel %q query %s returned no data: %s", p.Title, tg.RefID, tg.Expr)
			}
		}
	}
	var chains []string
	prom.getJSON(t, "/api/v1/label/chain/values?"+url.Values{"match[]": {"ingest_head_lag_blocks"}}.Encode(), &chains)
	if !slices.Contains(chains, "ethereum") {
		t.Errorf("the dashboard's chain variable (label_values(ingest_head_lag_blocks, chain)) lists %v, want ethereum", chains)
	}
	t.Logf("%d dashboard queries returned data", n)
}

// checkRules requires the alert rules of deploy/prometheus to be loaded and
// to evaluate without error against the live series.
func checkRules(t *testing.T, prom *promServer) {
	t.Helper()
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name           string `json:"name"`
				Health         string `json:"health"`
				LastError      string `json:"lastError"`
				LastEvaluation string `json:"lastEvaluation"`
			} `json:"rules"`
		} `json:"groups"`
	}
	// Rules are evaluated every second: wait for a round.
	waitUntil(t, 30*time.Second, func() bool {
		prom.getJSON(t, "/api/v1/rules?type=alert", &rules)
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" {
					return false
				}
			}
		}
		return len(rules.Groups) > 0
	}, func() string { return fmt.Sprintf("alert rules not evaluated: %+v", rules) })
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("alert %s: health %s, error %q", r.Name, r.Health, r.LastError)
			}
		}
	}
	if n < 7 {
		t.Errorf("%d alert rules loaded, want the 7 of deploy/prometheus/alerts.yml", n)
	}
}

// prunedNode is the chain's JSON-RPC endpoint as a pruned node behind a
// flaky proxy: oracle calls at even blocks fail with "missing trie node",
// and every 20th eth_getLogs gets HTTP 503 (retried at once: the next one
// passes).
type prunedNode struct {
	next   http.Handler
	oracle string
	logs   atomic.Int64
}

func (p *prunedNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var one struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(body, &one) == nil && one.Method == "eth_getLogs" && p.logs.Add(1)%20 == 0 {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		return
	}
	var batch []struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if json.Unmarshal(body, &batch) != nil || !p.pruned(batch) {
		p.next.ServeHTTP(w, r)
		return
	}
	out := make([]string, len(batch))
	for i, q := range batch {
		out[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"missing trie node 0x%064x (path )"}}`, q.ID, i)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, "["+strings.Join(out, ",")+"]")
}

// pruned reports a batch with an oracle eth_call at an even block.
func (p *prunedNode) pruned(batch []struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}) bool {
	for _, q := range batch {
		if q.Method != "eth_call" || len(q.Params) < 2 {
			continue
		}
		var call struct {
			To   string `json:"to"`
			Data string `json:"data"`
		}
		var block string
		if json.Unmarshal(q.Params[0], &call) != nil || json.Unmarshal(q.Params[1], &block) != nil {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(block, "0x"), 16, 64)
		// The oracle is called directly, or inside a Multicall3 aggregate3
		// whose calldata holds its address.
		oracle := strings.EqualFold(call.To, p.oracle) ||
			(strings.EqualFold(call.To, multicall.Address.Hex()) && strings.Contains(strings.ToLower(call.Data), strings.ToLower(strings.TrimPrefix(p.oracle, "0x"))))
		if err == nil && oracle && n%2 == 0 {
			return true
		}
	}
	return false
}

// promServer is a Prometheus child process on loopback.
type promServer struct{ base string }

// startPrometheus runs prometheus with a temporary config scraping targets
// (job name → host:port) every scrapeInterval and loading the alert rules
// of deploy/prometheus; it is stopped when the test ends.
func startPrometheus(t *testing.T, bin string, targets map[string]string) *promServer {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(filepath.Join(deployDir, "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", scrapeInterval, scrapeInterval, scrapeInterval)
	fmt.Fprintf(&cfg, "rule_files:\n  - %q\nscrape_configs:\n", rules)
	jobs := make([]string, 0, len(targets))
	for j := range targets {
		jobs = append(jobs, j)
	}
	sort.Strings(jobs)
	for _, j := range jobs {
		fmt.Fprintf(&cfg, "  - job_name: %s\n    honor_labels: true\n    static_configs:\n      - targets: [%q]\n", j, targets[j])
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free loopback port: taken, then released for prometheus.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	p := &promServer{base: "http://" + addr}
	waitUntil(t, 30*time.Second, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, func() string { return "prometheus not ready:\n" + out.String() })
	// Both targets scraped and up.
	waitUntil(t, 30*time.Second, func() bool {
		v, ok := p.scalar(t, `sum(up{job=~"ingest|aggregator"})`)
		return ok && v == float64(len(targets))
	}, func() string {
		var ts struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		}
		p.getJSON(t, "/api/v1/targets", &ts)
		return fmt.Sprintf("targets not up: %+v", ts.ActiveTargets)
	})
	return p
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// getJSON reads a Prometheus API answer's data into v.
func (p *promServer) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if env.Status != "success" {
		t.Fatalf("GET %s: %s %s", path, env.Status, env.Error)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// query runs an instant query and returns its vector.
func (p *promServer) query(t *testing.T, q string) []sample {
	t.Helper()
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []sample `json:"result"`
	}
	p.getJSON(t, "/api/v1/query?"+url.Values{"query": {q}}.Encode(), &data)
	if data.ResultType != "vector" {
		t.Fatalf("query %s: result type %s, want vector", q, data.ResultType)
	}
	return data.Result
}

// scalar returns the single value of an instant query, false when empty.
func (p *promServer) scalar(t *testing.T, q string) (float64, bool) {
	t.Helper()
	res := p.query(t, q)
	if len(res) == 0 {
		return 0, false
	}
	if len(res) > 1 {
		t.Fatalf("query %s: %d series, want one", q, len(res))
	}
	s, _ := res[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v: %v", q, res[0].Value, err)
	}
	return v, true
}

// series returns the label sets of an instant query's result.
func (p *promServer) series(t *testing.T, q string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, s := range p.query(t, q) {
		out = append(out, s.Metric)
	}
	return out
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond every 100ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
