package configfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/liqstream/liqstream/services/lib/secret"
)

type testConn struct {
	Brokers []string `yaml:"brokers"`
	TLS     struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"tls"`
}

type testPolicy struct {
	Attempts int           `yaml:"rpc_max_attempts"`
	Backoff  time.Duration `yaml:"rpc_backoff"`
}

type testSvc struct {
	Chain    string       `yaml:"chain"`
	URLs     []secret.URL `yaml:"rpc_urls"`
	Password secret.String
	Policy   testPolicy    `yaml:",inline"`
	Range    uint64        `yaml:"log_range"`
	Poll     time.Duration `yaml:"poll_interval"`
	Follow   bool          `yaml:"follow"`
	From     string        `yaml:"from"`
	Kafka    struct {
		testConn `yaml:",inline"`
		Group    string `yaml:"group"`
	} `yaml:"kafka"`
	Labels map[string]int `yaml:"labels"`
}

func defaults() testSvc {
	var s testSvc
	s.Chain, s.Range, s.Poll = "ethereum", 100, 2*time.Second
	s.Policy = testPolicy{Attempts: 5, Backoff: time.Second}
	s.Kafka.Brokers = []string{"127.0.0.1:9092"}
	return s
}

func env(m map[string]string) LookupFunc {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExpand(t *testing.T) {
	vars := env(map[string]string{"HOST": "h1", "EMPTY": "", "PORT": "9092"})
	tests := []struct {
		in, want, wantErr string
	}{
		{"plain", "plain", ""},
		{"${HOST}:${PORT}", "h1:9092", ""},
		{"${MISSING:-fallback}", "fallback", ""},
		{"${EMPTY:-fallback}", "fallback", ""},
		{"${EMPTY}", "", "EMPTY is not set (or empty)"},
		{"${HOST:-x}", "h1", ""},
		{"${MISSING:-}", "", ""},
		{"pa$$word", "pa$word", ""},
		{"$${HOST}", "${HOST}", ""},
		{"cost $5 and $", "cost $5 and $", ""},
		{"${MISSING}", "", "MISSING is not set"},
		{"${HOST", "", "no closing"},
		{"${1X}", "", "not a variable reference"},
		{"${A:-${B}}", "", "nesting"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, _, err := expand(tt.in, vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.problem, tt.wantErr) {
					t.Fatalf("expand(%q) err = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFileDecode(t *testing.T) {
	vars := env(map[string]string{
		"RPC": "https://rpc.example.com/v2/SECRETKEY", "ATTEMPTS": "7", "YES": "true", "NULLISH": "null",
		"BADDUR": "SECRETDUR", "EMPTY": "",
	})
	tests := []struct {
		name, in string
		path     string
		opts     []Option
		want     func(*testSvc) // applied to the defaults
		wantErrs []string       // each must appear in the error; "" none
	}{
		{name: "absent section keeps defaults", in: "kafka: {brokers: [a:1]}\n", path: "ingest", want: func(*testSvc) {}},
		{name: "empty section keeps defaults", in: "ingest:\n", path: "ingest", want: func(*testSvc) {}},
		{name: "empty file", in: "", path: "ingest", want: func(*testSvc) {}},
		{name: "overlay", path: "chains.polygon",
			in: "chains:\n  polygon:\n    from: 2026-01-01\n    rpc_urls: [\"${RPC}\"]\n    rpc_max_attempts: ${ATTEMPTS}\n    follow: ${YES}\n    kafka: {group: g}\n",
			want: func(s *testSvc) {
				s.From, s.URLs, s.Policy.Attempts, s.Follow, s.Kafka.Group = "2026-01-01", []secret.URL{"https://rpc.example.com/v2/SECRETKEY"}, 7, true, "g"
			}},
		{name: "quoted expansion is typed by its value", path: "ingest", in: "ingest:\n  rpc_max_attempts: \"${ATTEMPTS}\"\n",
			want: func(s *testSvc) { s.Policy.Attempts = 7 }},
		{name: "null-looking variable stays a string", path: "ingest", in: "ingest:\n  from: ${NULLISH}\n  chain: ${EMPTY:-}\n",
			want: func(s *testSvc) { s.From, s.Chain = "null", "" }},
		{name: "key without value keeps default", path: "ingest", in: "ingest:\n  poll_interval:\n  log_range: 7\n",
			want: func(s *testSvc) { s.Range = 7 }},
		{name: "anchors and merge keys", path: "chains.base",
			in:   "ingest:\n  common: &c {log_range: 9, follow: true}\nchains:\n  base:\n    <<: *c\n    log_range: 10\n",
			want: func(s *testSvc) { s.Range, s.Follow = 10, true }},
		{name: "dollar escape", path: "ingest", in: "ingest:\n  password: pa$$word\n",
			want: func(s *testSvc) { s.Password = "pa$word" }},
		{name: "map merges", path: "ingest", in: "ingest:\n  labels: {a: 1}\n", want: func(s *testSvc) { s.Labels = map[string]int{"a": 1} }},

		{name: "unknown key", path: "chains.polygon", in: "chains:\n  polygon:\n    rpc_url: x\n",
			wantErrs: []string{"test.yaml:3: chains.polygon.rpc_url: unknown key: did you mean rpc_urls?"}},
		{name: "unknown nested key with hint", path: "ingest", opts: []Option{Hint("see kafka")}, in: "ingest:\n  kafka:\n    grop: g\n",
			wantErrs: []string{"test.yaml:3: ingest.kafka.grop: unknown key: did you mean group?; see kafka"}},
		{name: "unknown key without a near one lists the keys", path: "ingest", in: "ingest:\n  kafka:\n    tls: {verify: true}\n",
			wantErrs: []string{"ingest.kafka.tls.verify: unknown key (keys here: enabled)"}},
		{name: "every problem at once", path: "ingest", in: "ingest:\n  poll_interval: 5\n  log_range: -1\n  follow: maybe\n  rpc_urls: http://x\n  kafka: [a]\n",
			wantErrs: []string{
				"test.yaml:2: ingest.poll_interval: \"5\" is not a duration",
				"test.yaml:3: ingest.log_range: \"-1\" is not a non-negative whole number",
				"test.yaml:4: ingest.follow: \"maybe\" is not a boolean",
				"test.yaml:5: ingest.rpc_urls: expected a list",
				"test.yaml:6: ingest.kafka: expected a mapping",
			}},
		{name: "unset variable names key and variable", path: "chains.polygon", in: "chains:\n  polygon:\n    rpc_urls:\n      - ${NOPE}\n",
			wantErrs: []string{"test.yaml:4: chains.polygon.rpc_urls[0]: environment variable NOPE is not set"}},
		{name: "bad value from the environment is not printed", path: "ingest", in: "ingest:\n  poll_interval: ${BADDUR}\n",
			wantErrs: []string{"ingest.poll_interval: the value of ${BADDUR} is not a duration"}},
		{name: "rejected key", path: "chains.base", opts: []Option{Reject("chain", "the key under chains names the chain")},
			in: "chains:\n  base:\n    chain: polygon\n", wantErrs: []string{"test.yaml:3: chains.base.chain: not allowed here: the key under chains names the chain"}},
		{name: "duplicate key", path: "ingest", in: "ingest:\n  follow: true\n  follow: false\n",
			wantErrs: []string{"test.yaml:3: ingest.follow: key given twice (first on line 2)"}},
		{name: "section not a mapping", path: "chains.base", in: "chains: [base]\n",
			wantErrs: []string{"test.yaml:1: chains: expected a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(tt.in), vars)
			if err != nil {
				t.Fatal(err)
			}
			got := defaults()
			err = f.Decode(tt.path, &got, tt.opts...)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErrs)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nwant it to contain %q", err, w)
					}
				}
				if n := len(Errors(err)); n != len(tt.wantErrs) {
					t.Errorf("%d errors, want %d: %v", n, len(tt.wantErrs), err)
				}
				if !reflect.DeepEqual(got, defaults()) {
					t.Errorf("a failed Decode changed dst: %+v", got)
				}
				for _, secretValue := range []string{"SECRETKEY", "SECRETDUR"} {
					if strings.Contains(err.Error(), secretValue) {
						t.Errorf("error prints a value from the environment: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown section", "kafka: {}\nchain: {}\n", "test.yaml:2: chain: unknown section: did you mean chains?"},
		{"section twice", "ingest: {}\ningest: {}\n", "test.yaml:2: ingest: section given twice"},
		{"not a mapping", "- a\n", "test.yaml:1: the top level must be a mapping"},
		{"bad syntax", "ingest: [\n", "not valid YAML"},
		{"two documents", "ingest: {}\n---\nkafka: {}\n", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tt.in), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestExpandsOnlyDecodedSections(t *testing.T) {
	// Each service reads only its sections: an unset variable elsewhere is
	// not its problem. A node shared by an alias is expanded once.
	in := "chains:\n  ethereum: {rpc_urls: [\"${ETH}\"]}\n  base: {rpc_urls: [&u \"$${LITERAL}\"]}\ningest:\n  rpc_urls: [*u]\n"
	f, err := Parse("test.yaml", []byte(in), env(map[string]string{"LITERAL": "expanded twice"}))
	if err != nil {
		t.Fatal(err)
	}
	var a, b testSvc
	if err := f.Decode("chains.base", &a); err != nil {
		t.Fatal(err)
	}
	if err := f.Decode("ingest", &b); err != nil {
		t.Fatal(err)
	}
	if a.URLs[0] != "${LITERAL}" || b.URLs[0] != "${LITERAL}" {
		t.Fatalf("got %q and %q, want ${LITERAL} in both", a.URLs, b.URLs)
	}
	if !f.Has("chains.ethereum") || f.Has("chains.polygon") || f.Has("kafka") {
		t.Fatal("Has is wrong")
	}
	var e *Error
	if err := f.Decode("chains.ethereum", &a); !errors.As(err, &e) || e.Path != "chains.ethereum.rpc_urls[0]" || e.Line != 2 {
		t.Fatalf("err = %#v, want an *Error at chains.ethereum.rpc_urls[0] line 2", err)
	}
	keys, err := f.Keys("chains")
	if err != nil || len(keys) != 2 || keys[0].Name != "ethereum" || keys[1].Name != "base" {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
}

func TestKeyPaths(t *testing.T) {
	got := strings.Join(KeyPaths(&testSvc{}), " ")
	want := "chain follow from kafka.brokers[] kafka.group kafka.tls.enabled labels.* log_range password poll_interval rpc_backoff rpc_max_attempts rpc_urls[]"
	if got != want {
		t.Fatalf("KeyPaths:\ngot  %s\nwant %s", got, want)
	}
}

func TestNilFile(t *testing.T) {
	// A service run without --config decodes from a nil *File: defaults.
	var f *File
	got := defaults()
	if err := f.Decode("ingest", &got); err != nil || !reflect.DeepEqual(got, defaults()) {
		t.Fatalf("Decode on a nil file: %v, %+v", err, got)
	}
	if keys, err := f.Keys("chains"); f.Has("chains") || keys != nil || err != nil {
		t.Fatal("a nil file has sections")
	}
}
