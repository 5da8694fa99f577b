module github.com/liqstream/liqstream/services/liqstream

go 1.26.0

require (
	github.com/liqstream/liqstream/proto v0.0.0-00010101000000-000000000000
	github.com/liqstream/liqstream/schemas v0.0.0-00010101000000-000000000000
	github.com/liqstream/liqstream/services/aggregator v0.0.0-00010101000000-000000000000
	github.com/liqstream/liqstream/services/chainsim v0.0.0-00010101000000-000000000000
	github.com/liqstream/liqstream/services/ingest v0.0.0-00010101000000-000000000000
	github.com/liqstream/liqstream/services/lib v0.0.0-00010101000000-000000000000
)

replace (
	github.com/liqstream/liqstream/proto => ../../proto
	github.com/liqstream/liqstream/schemas => ../../schemas
	github.com/liqstream/liqstream/services/aggregator => ../aggregator
	github.com/liqstream/liqstream/services/chainsim => ../chainsim
	github.com/liqstream/liqstream/services/ingest => ../ingest
	github.com/liqstream/liqstream/services/lib => ../lib
)
