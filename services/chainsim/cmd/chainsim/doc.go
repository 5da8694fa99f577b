// Command chainsim serves the deterministic Aave V3 chain simulator (package
// sim) over JSON-RPC as its own process: one endpoint per chain at
// http://<listen>/<slug> or /<chain id>, e.g. http://127.0.0.1:8545/polygon.
//
//	chainsim --listen 127.0.0.1:8545 --seed 1 --scale 1 --truth-out truth.json
//
// Flags: --listen, --seed, --scale, --from, --to (YYYY-MM-DD or RFC 3339,
// UTC, half-open window), --chains (comma-separated ids), --max-log-range,
// --max-log-results, --omit-log-block-timestamp (logs are served with
// blockTimestamp unless it is set), --multicall3-blocks (chain=block,…:
// where Multicall3 is deployed, default the real blocks), --truth-out
// (ground truth as JSON) and --faults (a YAML file of simulated providers,
// package faults, each served at /<name>/<chain>, e.g. /alchemy/polygon).
// It logs with slog to stderr and stops on SIGINT or SIGTERM.
package main
