package alerter

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/liqstream/liqstream/services/lib/configfile"
)

// TestConfigFile decodes a config file with every key, then logs and
// re-encodes the result and finds no trace of the webhook token.
func TestConfigFile(t *testing.T) {
	file := `
brokers: [10.0.0.1:9092, 10.0.0.2:9092]
topic: liqstream.liquidations.v1
group_id: risk-alerts
threshold_usd: "250000.5"
webhook_url: https://hooks.example/services/` + token + `
webhook_timeout: 3s
webhook_attempts: 7
retry_backoff: 250ms
`
	cfg := DefaultConfig()
	if err := configfile.Decode("alerter.yaml", []byte(file), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.GroupID != "risk-alerts" || cfg.ThresholdUSD != "250000.5" || cfg.WebhookTimeout != 3*time.Second ||
		cfg.WebhookAttempts != 7 || cfg.RetryBackoff != 250*time.Millisecond || len(cfg.Brokers) != 2 ||
		!strings.HasSuffix(cfg.WebhookURL.Reveal(), token) {
		t.Errorf("decoded %+v", cfg)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "url", cfg.WebhookURL)
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"log": logs.String(), "yaml": string(out)} {
		if strings.Contains(s, token) {
			t.Errorf("%s output shows the webhook token:\n%s", name, s)
		}
	}

	if err := configfile.Decode("alerter.yaml", []byte("webhook: x\n"), &cfg); err == nil {
		t.Error("unknown key webhook accepted")
	}
}
