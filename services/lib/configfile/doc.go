// Package configfile reads liqstream's one config file, liqstream.yaml,
// shared by every service (the format and every key are documented in
// deploy/config/README.md):
//
//	kafka:      connection settings every service shares (brokers, tls, sasl)
//	clickhouse: the aggregator's and the CLI's ClickHouse connection
//	ingest:     ingest settings that apply to every chain
//	chains:     per-chain ingest settings, keyed by chain slug
//	aggregator: the aggregator's own settings
//
// Open parses the file once into a YAML node tree; each service then
// decodes the sections it needs with File.Decode, over a struct that already
// holds its defaults, in order of precedence (later sections override
// earlier ones), and applies the flags it was given last (FlagsSet):
// defaults < file < flags.
//
// Decoding is strict and reports every problem at once, each an *Error
// naming the file, line, dotted key path and what to do: unknown keys (with
// a did-you-mean), values of the wrong type, unknown top-level sections.
// Scalar values (never keys or comments) may reference the environment:
// ${VAR}, ${VAR:-default} (used when VAR is unset or empty) and $$ for a
// literal $. An unset variable without a default is an error naming the key
// and the variable; errors never print a value read from the environment
// or held by a secret field. A key given no value keeps its default.
//
// Load and Decode read a standalone strict YAML file into one struct (used
// by single-purpose tools such as the chain simulator's fault file).
package configfile
