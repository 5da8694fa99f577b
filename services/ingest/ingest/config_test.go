package ingest

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/chains"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/secret"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Chain = "polygon"
	c.RPCURL = "https://polygon.example.com/v3/SECRETKEY"
	c.From = "2026-01-01"
	c.To = "2026-03-01"
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantKey string // the key the error must name; "" = valid
	}{
		{"valid dates", func(*Config) {}, ""},
		{"valid blocks", func(c *Config) { c.From, c.To = "100", "200" }, ""},
		{"valid rfc3339 follow", func(c *Config) { c.From, c.To, c.Follow = "2026-01-01T12:00:00Z", "", true }, ""},
		{"valid chain id", func(c *Config) { c.Chain = "137" }, ""},
		{"missing chain", func(c *Config) { c.Chain = "" }, "chain"},
		{"unknown chain", func(c *Config) { c.Chain = "solana" }, "chain"},
		{"missing rpc", func(c *Config) { c.RPCURL = "" }, "rpc_url"},
		{"bad rpc scheme", func(c *Config) { c.RPCURL = "ftp://x.example.com/KEY" }, "rpc_url"},
		{"missing from", func(c *Config) { c.From = "" }, "from"},
		{"bad from", func(c *Config) { c.From = "yesterday" }, "from"},
		{"bad to", func(c *Config) { c.To = "2026-13-01" }, "to"},
		{"empty window", func(c *Config) { c.From, c.To = "200", "200" }, "to"},
		{"reversed dates", func(c *Config) { c.From, c.To = "2026-02-01", "2026-01-01" }, "to"},
		{"follow with to", func(c *Config) { c.Follow = true }, "follow"},
		{"negative confirmations", func(c *Config) { c.Confirmations = -2 }, "confirmations"},
		{"negative multicall3_block", func(c *Config) { c.Multicall3Block = -2 }, "multicall3_block"},
		{"zero poll", func(c *Config) { c.PollInterval = 0 }, "poll_interval"},
		{"zero concurrency", func(c *Config) { c.Concurrency = 0 }, "concurrency"},
		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, "kafka.brokers"},
		{"bad pool", func(c *Config) { c.Market.Pool = "0x1234" }, "market.pool"},
		{"rpc_urls only", func(c *Config) { c.RPCURL, c.RPCURLs = "", []secret.URL{"https://a.example.com/SECRETKEY"} }, ""},
		{"bad rpc_urls", func(c *Config) { c.RPCURLs = []secret.URL{"ftp://x.example.com/SECRETKEY"} }, "rpc_urls[0]"},
		{"negative rate_limit", func(c *Config) { c.RPC.RateLimit = -1 }, "rate_limit"},
		{"fail threshold over window", func(c *Config) { c.RPC.FailThreshold, c.RPC.FailWindow = 30, 20 }, "rpc_fail_threshold"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.wantKey+":") {
				t.Fatalf("err = %v, want an ErrConfig naming %q", err, tc.wantKey)
			}
			if strings.Contains(err.Error(), "SECRETKEY") {
				t.Fatalf("error leaks the RPC key: %v", err)
			}
		})
	}
}

func TestUnknownChainListsValidChains(t *testing.T) {
	c := validConfig()
	c.Chain = "solana"
	err := c.Validate()
	if !errors.Is(err, chains.ErrUnknownChain) || !strings.Contains(err.Error(), "polygon") {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveDefaultsFromRegistry(t *testing.T) {
	r, err := validConfig().resolve()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := chains.Default().PrimaryV3Market(137)
	if r.market.Name != m.Name || !strings.EqualFold(r.pool.Hex(), m.Pool) || r.confirmations != 200 || r.logRange != 5000 {
		t.Fatalf("resolved = %+v", r)
	}
}

// TestConfigFileStrictAndSecretElided loads a YAML file with the shared
// loader and checks that unknown keys fail and that logging the loaded config
// prints no secret.
func TestConfigFileStrictAndSecretElided(t *testing.T) {
	c := DefaultConfig()
	yml := "chain: base\nrpc_url: https://base.example.com/v2/SECRETKEY\nfrom: \"2026-01-01\"\npoll_interval: 3s\nkafka:\n  brokers: [\"127.0.0.1:19092\"]\n"
	if err := configfile.Decode("test.yaml", []byte(yml), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PollInterval.Seconds() != 3 || c.Concurrency != 4 {
		t.Fatalf("file over defaults: %+v", c)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c, "url", c.RPCURL)
	if strings.Contains(buf.String(), "SECRETKEY") {
		t.Fatalf("logged config leaks the key: %s", buf.String())
	}
	bad := DefaultConfig()
	if err := configfile.Decode("bad.yaml", []byte("chain: base\nrpcurl: x\n"), &bad); err == nil {
		t.Fatal("unknown key accepted")
	}
}
