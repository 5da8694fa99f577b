// Package topics is the Kafka side of liqstream's contract: topic names, the
// record key, header names and the settings each topic is created with. The
// producer (ingest), the consumer (aggregator) and the tools all take these
// from here so the contract lives in one place.
package topics
