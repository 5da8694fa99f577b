// Package command implements the subcommands of the user-facing `liqstream`
// binary. Each subcommand parses its own flags, does one job through the
// service packages, writes results to stdout and diagnostics to stderr, and
// returns an exit code: 0 success, 1 failure, 2 bad usage.
package command
