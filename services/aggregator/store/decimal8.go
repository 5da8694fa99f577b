package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/shopspring/decimal"

	"github.com/liqstream/liqstream/services/lib/usd"
)

// decimal8 is one Decimal(38, 8) value as the native protocol carries it:
// the number in units of 10^-8 as a 128-bit two's-complement integer. The
// store only holds values in [0, 10^38), so hi never has its top bit set.
type decimal8 struct{ lo, hi uint64 }

// nullDecimal8 is one Nullable(Decimal(38, 8)) value; valid is false for
// NULL.
type nullDecimal8 struct {
	v     decimal8
	valid bool
}

// decimal8FromE8 returns v (in 10^-8 units, v >= 0).
func decimal8FromE8(v int64) decimal8 { return decimal8{lo: uint64(v)} }

// decimal8FromBig returns v (in 10^-8 units); v must be in [0, 2^127).
func decimal8FromBig(v *big.Int) decimal8 {
	var b [16]byte
	v.FillBytes(b[:])
	return decimal8{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// big returns d in 10^-8 units.
func (d decimal8) big() *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], d.hi)
	binary.BigEndian.PutUint64(b[8:], d.lo)
	return new(big.Int).SetBytes(b[:])
}

// String formats d with 8 decimals, as ClickHouse prints Decimal(38, 8).
func (d decimal8) String() string { return usd.Format(d.big()) }

// decimal returns d as the type clickhouse-go appends (appendDecimal8's
// fallback).
func (d decimal8) decimal() decimal.Decimal {
	return decimal.NewFromBigInt(d.big(), -usd.Decimals)
}

// appendDecimal8 appends vs to col, a Decimal(38, 8) column of an INSERT
// being built, or a Nullable(Decimal(38, 8)) one when nulls is not nil
// (nulls[i] = 1 for NULL, as the native format has it).
//
// clickhouse-go appends decimals one shopspring Decimal at a time through
// math/big (several allocations per value, a tenth of the consumer's CPU at
// six decimals per row). The values here are already the 16 bytes the wire
// carries, so appendDecimal8 lays them out in the native format and has the
// column read them with Decode, the path the client takes for a block the
// server sends. Decode fills an empty column only, so a column that holds
// rows already, or of another type, takes clickhouse-go's Append instead.
// TestAppendDecimal8MatchesClient and FuzzAppendDecimal8 hold the two paths
// to the same encoded bytes.
func appendDecimal8(col column.Interface, vs []decimal8, nulls []uint8) error {
	n := len(vs)
	if n == 0 {
		return nil
	}
	if !isDecimal38_8(col, nulls != nil) || col.Rows() != 0 {
		return appendDecimal8Slow(col, vs, nulls)
	}
	buf := make([]byte, 0, len(nulls)+16*n)
	buf = append(buf, nulls...)
	for i, v := range vs {
		if nulls != nil && nulls[i] != 0 {
			v = decimal8{} // what clickhouse-go writes under a NULL
		}
		buf = binary.LittleEndian.AppendUint64(buf, v.lo)
		buf = binary.LittleEndian.AppendUint64(buf, v.hi)
	}
	if err := col.Decode(chproto.NewReader(bytes.NewReader(buf)), n); err != nil {
		return fmt.Errorf("laying out %d Decimal(38, 8) values of column %s: %w", n, col.Name(), err)
	}
	if got := col.Rows(); got != n {
		return fmt.Errorf("column %s holds %d rows after laying out %d Decimal(38, 8) values; the ClickHouse client library changed: report this", col.Name(), got, n)
	}
	return nil
}

// appendDecimal8Slow is appendDecimal8 through clickhouse-go's Append.
func appendDecimal8Slow(col column.Interface, vs []decimal8, nulls []uint8) error {
	if nulls == nil {
		ds := make([]decimal.Decimal, len(vs))
		for i, v := range vs {
			ds[i] = v.decimal()
		}
		_, err := col.Append(ds)
		return err
	}
	ds := make([]*decimal.Decimal, len(vs))
	for i, v := range vs {
		if nulls[i] == 0 {
			d := v.decimal()
			ds[i] = &d
		}
	}
	_, err := col.Append(ds)
	return err
}

// isDecimal38_8 reports whether col is a Decimal(38, 8) column, or a
// Nullable one when nullable.
func isDecimal38_8(col column.Interface, nullable bool) bool {
	if nullable {
		n, ok := col.(*column.Nullable)
		if !ok {
			return false
		}
		col = n.Base()
	}
	d, ok := col.(*column.Decimal)
	return ok && d.Precision() == 38 && d.Scale() == usd.Decimals
}
