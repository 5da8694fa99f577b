package command

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
)

const shippedConfig = "../../../deploy/config/liqstream.yaml"

// rpcEnv sets every RPC variable of the shipped file, each URL holding an
// API key that must never be printed.
func rpcEnv() map[string]string {
	env := map[string]string{}
	for _, c := range []string{"ETHEREUM", "POLYGON", "AVALANCHE", "ARBITRUM", "BASE"} {
		env[c+"_RPC_URL"] = "https://" + strings.ToLower(c) + ".rpc.example.com/v2/SECRETKEY" + c
	}
	return env
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "liqstream.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheckShippedFile(t *testing.T) {
	code, out, stderr := run(t, rpcEnv(), "config", "check", "--file", shippedConfig)
	if code != 0 {
		t.Fatalf("the shipped config fails with every variable set: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"OK", "kafka", "clickhouse", "aggregator", "ethereum", "polygon", "avalanche", "arbitrum", "base",
		"https://polygon.rpc.example.com/<redacted>", "from 2026-01-01"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+stderr, "SECRETKEY") {
		t.Fatalf("the summary prints an RPC key:\n%s", out)
	}

	// One variable unset: exactly that problem, naming the key, the line
	// and the variable.
	env := rpcEnv()
	delete(env, "POLYGON_RPC_URL")
	code, _, stderr = run(t, env, "config", "check", "--file", shippedConfig)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	if !regexp.MustCompile(`liqstream\.yaml:\d+: chains\.polygon\.rpc_urls\[0\]: environment variable POLYGON_RPC_URL is not set`).MatchString(stderr) ||
		!strings.Contains(stderr, "1 problem(s)") {
		t.Fatalf("stderr does not name the unset variable and its key alone:\n%s", stderr)
	}

	// Checking only the chains one runs needs only their variables.
	env = map[string]string{"POLYGON_RPC_URL": rpcEnv()["POLYGON_RPC_URL"]}
	code, out, stderr = run(t, env, "config", "check", "--file", shippedConfig, "--chain", "polygon")
	if code != 0 || !strings.Contains(out, "polygon") || strings.Contains(out, "ethereum") {
		t.Fatalf("--chain polygon with only POLYGON_RPC_URL set: exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = run(t, env, "config", "check", "--file", shippedConfig, "--chain", "polygon,optimism")
	if code != 2 || !strings.Contains(stderr, "--chain optimism: not under chains") {
		t.Fatalf("--chain naming a chain the file lacks: exit %d\n%s", code, stderr)
	}
}

// base is a valid file; each bad config below replaces or adds to it.
const base = `kafka:
  brokers: [127.0.0.1:9092]
clickhouse:
  addr: [127.0.0.1:9000]
  password: ${CH_PASSWORD}
ingest:
  from: "2026-01-01"
  poll_interval: 2s
chains:
  polygon:
    rpc_urls: ["${POLYGON_RPC_URL}"]
  base:
    rpc_urls: [http://127.0.0.1:8545/base]
    to: "2026-03-01"
aggregator:
  batch: {max_records: 100}
`

func TestConfigCheckBadConfigs(t *testing.T) {
	env := map[string]string{"POLYGON_RPC_URL": "https://polygon.example.com/v2/SECRETKEY", "CH_PASSWORD": "SECRETPASSWORD", "BAD_DURATION": "SECRETDURATION"}
	if code, out, stderr := run(t, env, "config", "check", "--file", writeConfig(t, base)); code != 0 {
		t.Fatalf("the base config fails: exit %d\n%s%s", code, out, stderr)
	}
	tests := []struct {
		name string
		old  string // replaced in base by new; "" appends new
		new  string
		want []string // each in stderr, in order of the file
	}{
		{"unknown section", "", "chain: polygon\n", []string{"liqstream.yaml:17: chain: unknown section: did you mean chains?"}},
		{"unknown kafka key", "  brokers: [127.0.0.1:9092]\n", "  brokers: [127.0.0.1:9092]\n  group: g\n",
			[]string{"liqstream.yaml:3: kafka.group: unknown key", "service settings go under ingest.kafka or aggregator.kafka", "1 problem(s)"}},
		{"unknown clickhouse key", "  addr: [127.0.0.1:9000]\n", "  adr: [127.0.0.1:9000]\n", []string{"liqstream.yaml:4: clickhouse.adr: unknown key: did you mean addr?"}},
		{"unknown ingest key", "  poll_interval: 2s\n", "  poll_intervall: 2s\n", []string{"liqstream.yaml:8: ingest.poll_intervall: unknown key: did you mean poll_interval?"}},
		{"unknown chain key", "    to: \"2026-03-01\"\n", "    too: \"2026-03-01\"\n", []string{"liqstream.yaml:14: chains.base.too: unknown key: did you mean to?"}},
		{"unknown nested aggregator key", "  batch: {max_records: 100}\n", "  batch: {max_record: 100}\n", []string{"liqstream.yaml:16: aggregator.batch.max_record: unknown key: did you mean max_records?"}},
		{"bad duration", "  poll_interval: 2s\n", "  poll_interval: 2\n", []string{"liqstream.yaml:8: ingest.poll_interval: \"2\" is not a duration"}},
		{"bad duration from the environment", "  poll_interval: 2s\n", "  poll_interval: ${BAD_DURATION}\n", []string{"ingest.poll_interval: the value of ${BAD_DURATION} is not a duration"}},
		{"bad number", "{max_records: 100}", "{max_records: lots}", []string{"liqstream.yaml:16: aggregator.batch.max_records: \"lots\" is not a whole number"}},
		{"unset variable", "${POLYGON_RPC_URL}", "${POLYGON_RPC}", []string{"liqstream.yaml:11: chains.polygon.rpc_urls[0]: environment variable POLYGON_RPC is not set", "${POLYGON_RPC:-value}"}},
		{"bad chain name", "  polygon:\n", "  polygn:\n", []string{"liqstream.yaml:10: chains.polygn: unknown chain: did you mean polygon?"}},
		{"chain by id", "  polygon:\n", "  \"137\":\n", []string{"chains.137: key chains by slug: write polygon"}},
		{"bad broker", "[127.0.0.1:9092]", "[kafka]", []string{"kafka.brokers: \"kafka\" is not host:port"}},
		{"bad rpc url", "[http://127.0.0.1:8545/base]", "[127.0.0.1:8545]", []string{"chains.base", "rpc_urls[0]", "is not an http(s) or ws(s) URL"}},
		{"negative concurrency", "  poll_interval: 2s\n", "  poll_interval: 2s\n  concurrency: -1\n", []string{"chains.polygon", "concurrency: must be 1..64, got -1", "chains.base"}},
		{"negative batch", "{max_records: 100}", "{max_records: -5}", []string{"aggregator", "batch.max_records"}},
		{"negative confirmations", "    to: \"2026-03-01\"\n", "    to: \"2026-03-01\"\n    confirmations: -3\n", []string{"chains.base", "confirmations: -3 is negative"}},
		{"negative log range", "    to: \"2026-03-01\"\n", "    to: \"2026-03-01\"\n    log_range: -1\n", []string{"liqstream.yaml:15: chains.base.log_range: \"-1\" is not a non-negative whole number"}},
		{"to before from", "    to: \"2026-03-01\"\n", "    to: \"2025-12-01\"\n", []string{"chains.base", "to: \"2025-12-01\" is not after from \"2026-01-01\""}},
		{"follow with to", "    to: \"2026-03-01\"\n", "    to: \"2026-03-01\"\n    follow: true\n", []string{"chains.base", "follow: cannot be combined with to"}},
		{"per-chain key in ingest", "  poll_interval: 2s\n", "  poll_interval: 2s\n  rpc_urls: [http://x:1]\n", []string{"liqstream.yaml:9: ingest.rpc_urls: not allowed here: it is per chain"}},
		{"chain key under chains", "    to: \"2026-03-01\"\n", "    to: \"2026-03-01\"\n    chain: polygon\n", []string{"liqstream.yaml:15: chains.base.chain: not allowed here"}},
		{"clickhouse under aggregator", "  batch: {max_records: 100}\n", "  batch: {max_records: 100}\n  clickhouse: {database: x}\n", []string{"liqstream.yaml:17: aggregator.clickhouse: not allowed here: ClickHouse is configured once"}},
		{"bad database name", "  addr: [127.0.0.1:9000]\n", "  addr: [127.0.0.1:9000]\n  database: my-db\n", []string{"clickhouse.database \"my-db\""}},
		{"missing from", "  from: \"2026-01-01\"\n", "", []string{"chains.polygon", "from: required", "chains.base"}},
		{"list expected", "[http://127.0.0.1:8545/base]", "http://127.0.0.1:8545/base", []string{"liqstream.yaml:13: chains.base.rpc_urls: expected a list"}},
		{"several problems at once", "  poll_interval: 2s\n", "  poll_interval: 2\n  concurrencyy: 3\n",
			[]string{"ingest.poll_interval", "ingest.concurrencyy", "2 problem(s)"}},
		{"bad YAML", "  polygon:\n", "  polygon: [\n", []string{"not valid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := base + tt.new
			if tt.old != "" {
				if !strings.Contains(base, tt.old) {
					t.Fatalf("base has no %q", tt.old)
				}
				body = strings.Replace(base, tt.old, tt.new, 1)
			}
			code, out, stderr := run(t, env, "config", "check", "--file", writeConfig(t, body))
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, stderr)
			}
			rest := stderr
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr lacks %q (in this order):\n%s", w, stderr)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(out+stderr, "SECRET") {
				t.Fatalf("output prints a secret:\n%s%s", out, stderr)
			}
		})
	}
}

func TestConfigCheckUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"config"}, 2, "usage: liqstream config check"},
		{[]string{"config", "lint"}, 2, `unknown subcommand "lint"`},
		{[]string{"config", "check", "--file", "/nonexistent/liqstream.yaml"}, 2, "no such file"},
		{[]string{"config", "check", "extra"}, 2, "unexpected argument"},
	} {
		code, _, stderr := run(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	if code, out, _ := run(t, nil, "config", "--help"); code != 0 || !strings.Contains(out, "usage") {
		t.Errorf("config --help: exit %d, %q", code, out)
	}
}

// TestConfigReferenceComplete fails when a key of a service's view is
// missing from the reference, deploy/config/README.md, in its section.
func TestConfigReferenceComplete(t *testing.T) {
	b, err := os.ReadFile("../../../deploy/config/README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	section := func(heading string) string {
		i := strings.Index(doc, "\n### "+heading)
		if i < 0 {
			t.Fatalf("deploy/config/README.md has no section %q", heading)
		}
		s := doc[i+1:]
		if j := strings.Index(s[4:], "\n### "); j >= 0 {
			s = s[:j+4]
		}
		if j := strings.Index(s, "\n## "); j >= 0 {
			s = s[:j]
		}
		return s
	}
	agg := []string{}
	for _, k := range configfile.KeyPaths(&aggregator.Config{}) {
		if !strings.HasPrefix(k, "clickhouse.") {
			agg = append(agg, k)
		}
	}
	ing := []string{}
	for _, k := range configfile.KeyPaths(&ingest.Config{}) {
		if k != "chain" {
			ing = append(ing, k)
		}
	}
	for _, s := range []struct {
		heading string
		keys    []string
	}{
		{"kafka", configfile.KeyPaths(&kafkaconn.Conn{})},
		{"clickhouse", configfile.KeyPaths(&store.Config{})},
		{"ingest and chains", ing},
		{"aggregator", agg},
	} {
		text := section(s.heading)
		for _, k := range s.keys {
			k = strings.TrimSuffix(strings.ReplaceAll(k, "[]", ""), ".*")
			covered := strings.Contains(text, "`"+k+"`")
			// A group like `kafka.tls.*` covers its keys.
			for p := k; !covered && strings.Contains(p, "."); {
				p = p[:strings.LastIndex(p, ".")]
				covered = strings.Contains(text, "`"+p+".*`")
			}
			if !covered {
				t.Errorf("deploy/config/README.md section %q does not document key `%s`: add a row for it", s.heading, k)
			}
		}
	}
}
