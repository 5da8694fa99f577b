package protocol

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/decode"
)

// spark decodes SparkLend, an Aave V3 fork on Ethereum: the same
// LiquidationCall and DeficitCreated events and the same protocol-fee
// mechanics, labelled "spark". Its Pool, oracle and data provider come from
// Spark's public address registry (lib/chains cites it).
type spark struct{}

var _ Adapter = spark{}

func (spark) Name() string          { return "spark" }
func (spark) MethodVersion() string { return "spark/1" }
func (spark) ProtocolFee() bool     { return true }
func (spark) Topics() []common.Hash {
	return []common.Hash{decode.TopicLiquidationCall, decode.TopicDeficitCreated}
}

func (spark) Decode(l *types.Log, out *Event) error { return decodeV3(l, out) }
