package aggregator

import (
	"errors"

	"github.com/liqstream/liqstream/services/lib/configfile"
)

// kafkaSectionHint is added to unknown-key errors of the top-level kafka
// section (ingest uses the same words, so a shared problem reads the same).
const kafkaSectionHint = "the top-level kafka section holds only the connection (brokers, tls, sasl); service settings go under ingest.kafka or aggregator.kafka"

// FromFile builds the aggregator's config from the shared liqstream.yaml,
// in order of precedence:
//
//	DefaultConfig() < kafka (connection), clickhouse < aggregator
//
// The aggregator section holds this Config's keys other than clickhouse:
// kafka (group, topic, dlq_topic, instance_id, session_timeout, limits, and
// brokers/tls/sasl overriding the top-level connection), batch,
// metrics_addr. Flags go over the result; validating it is the caller's
// (Validate). A nil f gives the defaults. It returns every problem found,
// joined.
func FromFile(f *configfile.File) (Config, error) {
	cfg := DefaultConfig()
	if f == nil {
		return cfg, nil
	}
	return cfg, errors.Join(
		f.Decode("kafka", &cfg.Kafka.Conn, configfile.Hint(kafkaSectionHint)),
		f.Decode("clickhouse", &cfg.ClickHouse),
		f.Decode("aggregator", &cfg, configfile.Reject("clickhouse", "ClickHouse is configured once, in the top-level clickhouse section")),
	)
}
