// Package testsupport holds the fixtures shared by integration tests: the
// addresses of the real Kafka broker and ClickHouse server that `make test`
// starts, fresh databases and topics per test, and seeded randomness.
//
// Integration tests are gated one way only: they run when the environment
// variables LIQSTREAM_TEST_KAFKA_BROKERS and LIQSTREAM_TEST_CLICKHOUSE_ADDR are
// set (make test sets them after starting the servers) and skip otherwise with
// a message saying so.
package testsupport
