// Command liqstream-alerter POSTs a JSON alert to a webhook for every
// liquidation on the liqstream topic whose collateral USD is at least a
// threshold, and a retraction notice when such an event is orphaned by a reorg.
// It is an example consumer written with segmentio/kafka-go; see package
// alerter for the delivery semantics.
//
//	LIQSTREAM_ALERTER_WEBHOOK_URL=https://hooks.example/T0KEN \
//	liqstream-alerter [--config alerter.yaml] [--brokers h:p,...] [--topic t]
//	                  [--group id] [--threshold-usd 1000000]
//	                  [--kafka-tls-ca-file ca.pem] [--kafka-sasl-mechanism SCRAM-SHA-512
//	                   --kafka-sasl-username u --kafka-sasl-password-file f]
//
// Settings apply as defaults < config file < environment < flags. The webhook
// URL is read from the config file (webhook_url) or the environment, never
// from a flag, so it does not show in the process list; so is the Kafka SASL
// password (sasl.password, $KAFKA_SASL_PASSWORD or a file).
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/liqstream/liqstream/services/lib/cliargs"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
	"github.com/liqstream/liqstream/services/liqstream/examples/alerter"
)

// EnvWebhookURL overrides webhook_url.
const EnvWebhookURL = "LIQSTREAM_ALERTER_WEBHOOK_URL"

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log, os.Args[1:]); err != nil {
		log.Error("liqstream-alerter failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("liqstream-alerter", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (strict: unknown keys fail)")
	brokers := fs.String("brokers", "", "Kafka seed brokers, comma-separated (brokers)")
	topic := fs.String("topic", "", "liquidations topic (topic)")
	group := fs.String("group", "", "consumer group (group_id)")
	threshold := fs.String("threshold-usd", "", "smallest collateral USD that alerts, e.g. 1000000 (threshold_usd)")
	kflags := kafkaconn.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cliargs.None(fs); err != nil {
		return err
	}
	cfg := alerter.DefaultConfig()
	if err := configfile.Load(*configPath, &cfg); err != nil {
		return err
	}
	if v := os.Getenv(EnvWebhookURL); v != "" {
		cfg.WebhookURL = secret.URL(v)
	}
	set := configfile.FlagsSet(fs)
	if set["brokers"] {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	if set["topic"] {
		cfg.Topic = *topic
	}
	if set["group"] {
		cfg.GroupID = *group
	}
	if set["threshold-usd"] {
		cfg.ThresholdUSD = *threshold
	}
	if err := kflags.Apply(&cfg.Conn, os.Getenv); err != nil {
		return err
	}
	a, err := alerter.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.Run(ctx)
}
