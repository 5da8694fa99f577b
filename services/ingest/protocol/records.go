package protocol

import (
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/lib/hexenc"
)

// Chain identifies the chain of a record.
type Chain struct {
	ID   uint64
	Slug string
}

// EventID is "<chain_id>:<tx_hash>:<log_index>", the identity of a record.
func EventID(chainID uint64, tx common.Hash, logIndex uint) string {
	return strconv.FormatUint(chainID, 10) + ":" + hexAddr(tx.Bytes()) + ":" + strconv.FormatUint(uint64(logIndex), 10)
}

// hexAddr is hexutil.Encode (lowercase, "0x"-prefixed) in one allocation:
// it runs for every address, hash, topic and data of every record.
func hexAddr(b []byte) string {
	var stack [2 + 2*128]byte
	buf := stack[:0]
	if n := 2 + 2*len(b); n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, "0x"...)
	return string(hexenc.AppendEncode(buf, b))
}

func lowerHex(a common.Address) string { return hexAddr(a.Bytes()) }

// rawLog returns the log's topics and data as lowercase hex.
func rawLog(l *types.Log) ([]string, string) {
	ts := make([]string, len(l.Topics))
	for i, t := range l.Topics {
		ts[i] = hexAddr(t.Bytes())
	}
	return ts, hexAddr(l.Data)
}

// LiquidationRecord builds the offline part of a LiquidationEvent: chain,
// protocol, market, position, identity, decoded fields and the raw log.
// Block time, symbols, decimals, prices and USD values are left for the
// caller (ingest) to fill; revision is 1 and status CONFIRMED.
func LiquidationRecord(ch Chain, d *Decoded, l *types.Log) *liqstreamv1.LiquidationEvent {
	lq := &d.Liquidation
	topics, data := rawLog(l)
	return &liqstreamv1.LiquidationEvent{
		ChainId:                    ch.ID,
		Chain:                      ch.Slug,
		Protocol:                   d.Protocol,
		Market:                     d.Market.Name,
		Pool:                       lowerHex(l.Address),
		BlockNumber:                l.BlockNumber,
		BlockHash:                  hexAddr(l.BlockHash.Bytes()),
		TxHash:                     hexAddr(l.TxHash.Bytes()),
		TxIndex:                    uint32(l.TxIndex),
		LogIndex:                   uint32(l.Index),
		CollateralAsset:            &liqstreamv1.Asset{Address: lowerHex(lq.Collateral)},
		DebtAsset:                  &liqstreamv1.Asset{Address: lowerHex(lq.Debt)},
		Borrower:                   lowerHex(lq.Borrower),
		Liquidator:                 lowerHex(lq.Liquidator),
		DebtToCover:                lq.DebtToCover.Dec(),
		LiquidatedCollateralAmount: lq.LiquidatedCollateral.Dec(),
		ReceiveAToken:              lq.ReceiveAToken,
		EventId:                    EventID(ch.ID, l.TxHash, l.Index),
		Revision:                   1,
		Status:                     liqstreamv1.Status_STATUS_CONFIRMED,
		MethodVersion:              d.Market.Adapter.MethodVersion(),
		LogTopics:                  topics,
		LogData:                    data,
	}
}

// DeficitRecord builds the offline part of a DeficitEvent. liquidationID is
// the event id of the LiquidationCall it belongs to ("" when none).
func DeficitRecord(ch Chain, d *Decoded, l *types.Log, liquidationID string) *liqstreamv1.DeficitEvent {
	topics, data := rawLog(l)
	return &liqstreamv1.DeficitEvent{
		ChainId:            ch.ID,
		Chain:              ch.Slug,
		Protocol:           d.Protocol,
		Market:             d.Market.Name,
		Pool:               lowerHex(l.Address),
		BlockNumber:        l.BlockNumber,
		BlockHash:          hexAddr(l.BlockHash.Bytes()),
		TxHash:             hexAddr(l.TxHash.Bytes()),
		TxIndex:            uint32(l.TxIndex),
		LogIndex:           uint32(l.Index),
		Borrower:           lowerHex(d.Deficit.Borrower),
		DebtAsset:          &liqstreamv1.Asset{Address: lowerHex(d.Deficit.DebtAsset)},
		AmountCreated:      d.Deficit.Amount.Dec(),
		LiquidationEventId: liquidationID,
		EventId:            EventID(ch.ID, l.TxHash, l.Index),
		Revision:           1,
		Status:             liqstreamv1.Status_STATUS_CONFIRMED,
		MethodVersion:      d.Market.Adapter.MethodVersion(),
		LogTopics:          topics,
		LogData:            data,
	}
}

// Linker links DeficitCreated logs to the LiquidationCall they belong to.
// Aave V3.3 emits DeficitCreated while burning the borrower's debt, before
// the LiquidationCall of the same call (LiquidationLogic.executeLiquidationCall),
// so a deficit belongs to the first liquidation of the same borrower from
// the same pool after it in the same transaction; when there is none (a
// forged or reordered log), the last one before it. Add every liquidation of
// a block range first, then ask for each deficit.
type Linker struct {
	chainID uint64
	liqs    map[linkKey][]uint // log indexes, in the order added
}

type linkKey struct {
	tx       common.Hash
	pool     common.Address
	borrower common.Address
}

// NewLinker returns an empty Linker for one chain.
func NewLinker(chainID uint64) *Linker { return &Linker{chainID: chainID, liqs: map[linkKey][]uint{}} }

// Liquidation records a liquidation log of borrower.
func (k *Linker) Liquidation(l *types.Log, borrower common.Address) {
	key := linkKey{l.TxHash, l.Address, borrower}
	k.liqs[key] = append(k.liqs[key], l.Index)
}

// Deficit returns the event id of the liquidation a deficit log of borrower
// belongs to, or "" when its transaction has no liquidation of borrower.
func (k *Linker) Deficit(l *types.Log, borrower common.Address) string {
	idx := k.liqs[linkKey{l.TxHash, l.Address, borrower}]
	best, found := uint(0), false
	for _, i := range idx { // first liquidation after the deficit
		if i > l.Index && (!found || i < best) {
			best, found = i, true
		}
	}
	if !found {
		for _, i := range idx { // otherwise the last one before it
			if i < l.Index && (!found || i > best) {
				best, found = i, true
			}
		}
	}
	if !found {
		return ""
	}
	return EventID(k.chainID, l.TxHash, best)
}
