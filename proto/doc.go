// Package proto holds liqstream's event contract: the protobuf definitions under
// liqstream/v1 and their generated Go code in package liqstreamv1. Regenerate
// with `make proto`; CI fails when the committed code is stale.
package proto
