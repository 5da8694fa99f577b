package store

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/shopspring/decimal"
)

// maxDecimal8 is the largest value the store writes: 10^38 - 1 units.
var maxDecimal8 = decimal8FromBig(new(big.Int).Sub(maxUSD, big.NewInt(1)))

func newColumn(t testing.TB, typ string) column.Interface {
	t.Helper()
	c, err := column.Type(typ).Column("v", &column.ServerContext{})
	if err != nil {
		t.Fatalf("column %s: %v", typ, err)
	}
	return c
}

func encoded(c column.Interface) []byte {
	var b chproto.Buffer
	c.Encode(&b)
	return b.Buf
}

// checkAppendDecimal8 appends every batch of vs (with nulls, nil for a
// Decimal column) to a column through appendDecimal8 and to another through
// clickhouse-go's Append, and wants the same bytes on the wire and the same
// values read back.
func checkAppendDecimal8(t *testing.T, typ string, batches [][]decimal8, nulls [][]uint8) {
	t.Helper()
	fast, slow := newColumn(t, typ), newColumn(t, typ)
	for i, vs := range batches {
		if err := appendDecimal8(fast, vs, nulls[i]); err != nil {
			t.Fatalf("appendDecimal8 batch %d: %v", i, err)
		}
		if err := appendDecimal8Slow(slow, vs, nulls[i]); err != nil {
			t.Fatalf("clickhouse-go Append batch %d: %v", i, err)
		}
	}
	if fast.Rows() != slow.Rows() {
		t.Fatalf("%s: %d rows, clickhouse-go %d", typ, fast.Rows(), slow.Rows())
	}
	if f, s := encoded(fast), encoded(slow); !bytes.Equal(f, s) {
		t.Fatalf("%s: encoded %x\nclickhouse-go encoded %x", typ, f, s)
	}
	row := 0
	for i, vs := range batches {
		for j, v := range vs {
			got := fast.Row(row, false)
			if nulls[i] != nil && nulls[i][j] != 0 {
				if got != nil {
					t.Fatalf("row %d reads %v, want NULL", row, got)
				}
			} else if s := got.(interface{ StringFixed(int32) string }).StringFixed(8); s != v.String() {
				t.Fatalf("row %d reads %s, want %s", row, s, v)
			}
			row++
		}
	}
}

func TestAppendDecimal8MatchesClient(t *testing.T) {
	two64 := decimal8{hi: 1}
	tests := []struct {
		name    string
		batches [][]decimal8
		nulls   [][]uint8
	}{
		{"one zero", [][]decimal8{{{}}}, [][]uint8{{0}}},
		{"small", [][]decimal8{{decimal8FromE8(1), decimal8FromE8(123450000000), decimal8FromE8(1<<63 - 1)}}, [][]uint8{{0, 1, 0}}},
		{"above 64 bits", [][]decimal8{{two64, {lo: ^uint64(0), hi: 7}, maxDecimal8}}, [][]uint8{{1, 0, 0}}},
		{"all null", [][]decimal8{{{}, {}}}, [][]uint8{{1, 1}}},
		// A second append finds rows in the column and takes clickhouse-go's path.
		{"two appends", [][]decimal8{{decimal8FromE8(5), maxDecimal8}, {two64, decimal8FromE8(7)}}, [][]uint8{{0, 0}, {0, 1}}},
		{"empty", [][]decimal8{{}}, [][]uint8{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAppendDecimal8(t, "Nullable(Decimal(38, 8))", tt.batches, tt.nulls)
			checkAppendDecimal8(t, "Decimal(38, 8)", tt.batches, make([][]uint8, len(tt.batches)))
		})
	}
}

// TestAppendDecimal8Random compares the two paths on seeded random values
// of every magnitude.
func TestAppendDecimal8Random(t *testing.T) {
	const seed = 20261122
	rng := rand.New(rand.NewPCG(seed, seed))
	max := maxDecimal8.big()
	for round := range 50 {
		n := 1 + rng.IntN(5000)
		vs, nulls := make([]decimal8, n), make([]uint8, n)
		for i := range vs {
			// A random magnitude: the low `bits` bits of a random 128-bit value.
			bits := uint(rng.IntN(127) + 1)
			v := decimal8{lo: rng.Uint64(), hi: rng.Uint64()}.big()
			v.And(v, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits), big.NewInt(1)))
			if v.Cmp(max) > 0 {
				v = max
			}
			vs[i] = decimal8FromBig(v)
			if rng.IntN(4) == 0 {
				nulls[i] = 1
			}
		}
		t.Logf("seed %d round %d: %d values", seed, round, n)
		checkAppendDecimal8(t, "Nullable(Decimal(38, 8))", [][]decimal8{vs}, [][]uint8{nulls})
		checkAppendDecimal8(t, "Decimal(38, 8)", [][]decimal8{vs}, [][]uint8{nil})
	}
}

// TestAppendDecimal8OtherTypes: a column that is not Decimal(38, 8) never
// takes the fast path.
func TestAppendDecimal8OtherTypes(t *testing.T) {
	for _, typ := range []string{"Decimal(38, 4)", "Decimal(18, 8)", "Nullable(Decimal(38, 2))"} {
		c := newColumn(t, typ)
		if isDecimal38_8(c, typ[0] == 'N') {
			t.Errorf("%s taken for Decimal(38, 8)", typ)
		}
	}
	if err := appendDecimal8(newColumn(t, "String"), []decimal8{{}}, nil); err == nil {
		t.Error("appending decimals to a String column succeeded")
	}
	// Nullable-ness must match too.
	if isDecimal38_8(newColumn(t, "Decimal(38, 8)"), true) || isDecimal38_8(newColumn(t, "Nullable(Decimal(38, 8))"), false) {
		t.Error("nullable mismatch taken for the fast path")
	}
}

func FuzzAppendDecimal8(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0})
	f.Add(bytes.Repeat([]byte{0xff}, 34))
	f.Fuzz(func(t *testing.T, b []byte) {
		var vs []decimal8
		var nulls []uint8
		max := maxDecimal8.big()
		for len(b) >= 17 {
			d := decimal8{lo: binary.LittleEndian.Uint64(b), hi: binary.LittleEndian.Uint64(b[8:])}
			if d.big().Cmp(max) > 0 {
				d.hi %= max.Rsh(max, 64).Uint64() + 1
				max = maxDecimal8.big()
				if d.big().Cmp(max) > 0 {
					d = maxDecimal8
				}
			}
			vs = append(vs, d)
			nulls = append(nulls, b[16]&1)
			b = b[17:]
		}
		checkAppendDecimal8(t, "Nullable(Decimal(38, 8))", [][]decimal8{vs}, [][]uint8{nulls})
		checkAppendDecimal8(t, "Decimal(38, 8)", [][]decimal8{vs}, [][]uint8{nil})
	})
}

// BenchmarkAppendDecimal8 appends one block's worth (insertChunkRows) of a
// Nullable(Decimal(38, 8)) column, one value in eight NULL, through
// appendDecimal8 (fast) and through clickhouse-go's Append of shopspring
// Decimals built beforehand, as the store built them before (clickhouse-go:
// only the Append is timed).
func BenchmarkAppendDecimal8(b *testing.B) {
	const n = insertChunkRows
	rng := rand.New(rand.NewPCG(1, 1))
	vs, nulls := make([]decimal8, n), make([]uint8, n)
	ds := make([]*decimal.Decimal, n)
	for i := range vs {
		e8 := rng.Int64N(1e17)
		vs[i] = decimal8FromE8(e8)
		if i%8 == 0 {
			nulls[i] = 1
		} else {
			d := decimal.New(e8, -8)
			ds[i] = &d
		}
	}
	b.Run("fast", func(b *testing.B) {
		c := newColumn(b, "Nullable(Decimal(38, 8))")
		b.ReportAllocs()
		for b.Loop() {
			c.Reset()
			if err := appendDecimal8(c, vs, nulls); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/value")
	})
	b.Run("clickhouse-go", func(b *testing.B) {
		c := newColumn(b, "Nullable(Decimal(38, 8))")
		b.ReportAllocs()
		for b.Loop() {
			c.Reset()
			if _, err := c.Append(ds); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/value")
	})
}
