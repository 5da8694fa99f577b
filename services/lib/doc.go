// Package lib is the root of liqstream's shared library module. Its packages are
// used by every service:
//
//   - chains: the registry of chains and lending markets (slugs, ids, pools,
//     oracles) and per-chain ingest defaults.
//   - usd: exact 8-decimal fixed-point USD values computed with integer math.
//   - topics: Kafka topic names, record keys, headers and topic settings.
//   - telemetry: OpenTelemetry metrics exported in Prometheus format.
//   - secret: a string type for URLs and passwords that never prints itself.
//   - configfile: the one config file, liqstream.yaml, that every service reads
//     (strict decoding of its sections, ${VAR} expansion).
//   - testsupport: fixtures for integration tests against the real servers.
package lib
