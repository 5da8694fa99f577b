package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/secret"
)

// TestLoadedConfigNeverShowsSecrets: a config file whose RPC URLs carry a
// key in the user info, path and query, and whose Kafka SASL password is
// set, never shows them when the loaded config is logged (JSON and text
// handlers), printed (%v, %+v, %#v) or encoded to JSON, nor in the
// validation error of a bad URL.
func TestLoadedConfigNeverShowsSecrets(t *testing.T) {
	const key, password = "rpcK3Y0123456789SECRET", "saslPASSWORD0123456789"
	file := fmt.Sprintf(`chain: polygon
rpc_url: https://alice:%[1]s@polygon.example.com/v2/%[1]s?apikey=%[1]s
rpc_urls: [https://other.example.com/%[1]s, http://127.0.0.1:8545/rpc/%[1]s]
from: "100"
kafka:
  brokers: [127.0.0.1:9092]
  sasl: {mechanism: SCRAM-SHA-512, username: ingest, password: %[2]s}
`, key, password)
	cfg := DefaultConfig()
	if err := configfile.Decode("ingest.yaml", []byte(file), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.RPCURL.Reveal() == "" || cfg.Kafka.SASL.Password.Reveal() != password {
		t.Fatalf("the file was not loaded: %+v", cfg)
	}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "config", cfg, "rpc_url", cfg.RPCURL, "rpc_urls", cfg.RPCURLs, "kafka", cfg.Kafka)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", cfg, "rpc_url", cfg.RPCURL, "rpc_urls", cfg.RPCURLs, "kafka", cfg.Kafka)
	fmt.Fprintf(&out, "%v\n%+v\n%#v\n%s\n", cfg, cfg, cfg, cfg.RPCURLs)
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	bad := cfg
	bad.RPCURL = secret.URL("ftp://alice:" + cfg.RPCURL.Reveal()[len("https://alice:"):])
	verr := bad.Validate()
	if verr == nil {
		t.Fatal("an ftp rpc_url was accepted")
	}
	out.WriteString(verr.Error())
	for _, s := range []string{key, password, "alice"} {
		if strings.Contains(out.String(), s) {
			t.Errorf("output shows %q:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "polygon.example.com") || !strings.Contains(out.String(), "rpc_url") {
		t.Errorf("output hides too much (the host and the key name should show):\n%s", out.String())
	}
}
