// Package liqstream is the module of the user-facing `liqstream` tool
// (cmd/liqstream). Its packages: command (the subcommands) and demo (the
// in-process pipeline over the chain simulator that `make demo` and the
// end-to-end test run).
package liqstream
