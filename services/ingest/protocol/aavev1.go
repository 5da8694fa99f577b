package protocol

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/services/ingest/decode"
)

// aaveV1 decodes the Aave V1 LendingPool's own LiquidationCall: _reserve
// (topics[2]) is the debt asset, _purchaseAmount the debt repaid; native ETH
// appears as decode.ETHPlaceholder. V1 has no protocol fee in the event's
// sense; its oracle quotes in ETH.
type aaveV1 struct{}

var _ Adapter = aaveV1{}

func (aaveV1) Name() string          { return "aave-v1" }
func (aaveV1) MethodVersion() string { return "aave-v1/1" }
func (aaveV1) ProtocolFee() bool     { return false }
func (aaveV1) Topics() []common.Hash { return []common.Hash{decode.TopicLiquidationCallV1} }

func (aaveV1) Decode(l *types.Log, out *Event) error {
	var lc decode.LiquidationCallV1
	if err := decode.DecodeLogV1(l, &lc); err != nil {
		return err
	}
	if err := plausible("LiquidationCall(V1)", "_purchaseAmount", &lc.PurchaseAmount); err != nil {
		return err
	}
	if err := plausible("LiquidationCall(V1)", "_liquidatedCollateralAmount", &lc.LiquidatedCollateral); err != nil {
		return err
	}
	*out = Event{Kind: KindLiquidation, Liquidation: Liquidation{
		Collateral: lc.Collateral, Debt: lc.Reserve, Borrower: lc.Borrower, Liquidator: lc.Liquidator,
		DebtToCover: lc.PurchaseAmount, LiquidatedCollateral: lc.LiquidatedCollateral, ReceiveAToken: lc.ReceiveAToken,
	}}
	return nil
}
