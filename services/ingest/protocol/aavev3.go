package protocol

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/decode"
)

// aaveV3 decodes Aave V3 pools: LiquidationCall and, from V3.3, the
// DeficitCreated bad-debt log emitted in the liquidation's transaction.
// LiquidatedCollateral excludes the protocol fee, which the pool sends to the
// treasury as aTokens in the same transaction.
type aaveV3 struct{}

var _ Adapter = aaveV3{}

func (aaveV3) Name() string          { return "aave-v3" }
func (aaveV3) MethodVersion() string { return "aave-v3/1" }
func (aaveV3) ProtocolFee() bool     { return true }
func (aaveV3) Topics() []common.Hash {
	return []common.Hash{decode.TopicLiquidationCall, decode.TopicDeficitCreated}
}

func (aaveV3) Decode(l *types.Log, out *Event) error { return decodeV3(l, out) }

// decodeV3 is shared by Aave V3 and its forks.
func decodeV3(l *types.Log, out *Event) error {
	if topic0(l) == decode.TopicDeficitCreated {
		return deficitFromLog(l, out)
	}
	return liquidationFromCall(l, out)
}
