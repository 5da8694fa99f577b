package protocol

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/decode"
)

// aaveV2 decodes Aave V2 pools. The LiquidationCall layout is V3's; V2 has no
// protocol fee, so LiquidatedCollateral is everything seized. V2 Ethereum's
// oracle quotes in ETH: package price detects the base at run time.
type aaveV2 struct{}

var _ Adapter = aaveV2{}

func (aaveV2) Name() string          { return "aave-v2" }
func (aaveV2) MethodVersion() string { return "aave-v2/1" }
func (aaveV2) ProtocolFee() bool     { return false }
func (aaveV2) Topics() []common.Hash { return []common.Hash{decode.TopicLiquidationCall} }

func (aaveV2) Decode(l *types.Log, out *Event) error { return liquidationFromCall(l, out) }
