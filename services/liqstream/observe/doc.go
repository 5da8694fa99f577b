// Package observe checks the pipeline's observability end to end: the
// services' Prometheus metrics, the alert rules and the pipeline-health
// Grafana dashboard of deploy/, against a real Prometheus scraping a running
// pipeline (chainsim → ingest → Kafka → aggregator → ClickHouse). It holds
// only tests; see observe_test.go.
//
// The test needs the Prometheus server binary (Debian package prometheus,
// installed by scripts/install-deps.sh) named by LIQSTREAM_TEST_PROMETHEUS,
// plus the Kafka and ClickHouse of `make test`; without them it skips.
package observe
