package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/store"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/shopspring/decimal"
)

// A batch of several blocks is one INSERT: the server writes it as one part
// (level 0: written so, not merged from several). Cut off after its first
// block, it may leave those rows behind; written again, every event is
// stored once and the rollups are exact.
func TestInsertInBlocks(t *testing.T) {
	n := 2*store.InsertChunkRows + 100                   // three blocks
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // one month partition
	span := 120 * time.Hour                              // check's inner window needs 99
	seed := testsupport.Seed(t)
	t.Run("one part", func(t *testing.T) {
		s, conn := newStore(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		evs := synth.New(seed).Events(n, start, span)
		if err := s.WriteBatch(ctx, rows(t, evs, 0)); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		var parts, level uint64
		if err := conn.QueryRow(ctx, `SELECT count(), toUInt64(max(level)) FROM system.parts
			WHERE database = currentDatabase() AND table = 'liquidations' AND active`).Scan(&parts, &level); err != nil {
			t.Fatal(err)
		}
		if parts != 1 || level != 0 {
			t.Errorf("a batch of %d rows in three blocks is in %d parts of level up to %d, want 1 part of level 0", n, parts, level)
		}
		check(ctx, t, conn, evs, start, start.Add(span))
	})
	t.Run("cut off and written again", func(t *testing.T) {
		s, conn := newStore(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		evs := synth.New(seed).Events(n, start, span)
		batch := rows(t, evs, 0)
		cut := errors.New("connection lost")
		store.FailAfterFirstBlock(s, cut)
		var u store.Unsettled
		if err := s.Insert(ctx, batch, &u); !errors.Is(err, cut) {
			t.Fatalf("Insert with a lost connection: err = %v, want %v", err, cut)
		}
		var left uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM liquidations").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left > store.InsertChunkRows {
			t.Fatalf("a batch cut off after its first block left %d rows, more than the block's %d", left, store.InsertChunkRows)
		}
		t.Logf("the batch cut off after its first block left %d rows", left)
		if err := s.WriteBatch(ctx, batch); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		check(ctx, t, conn, evs, start, start.Add(span))
	})
}

// A batch that carries tombstones (an event's revision moved to another
// day) goes as one block, so a cut-off connection never writes the moved
// revision without the tombstone that keeps it counted once.
func TestTombstonesGoInOneBlock(t *testing.T) {
	s, conn := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := synth.New(testsupport.Seed(t))
	first := at(g.Events(1, utc(2026, 1, 14, 23, 59), time.Second)[0], utc(2026, 1, 14, 23, 59))
	if err := s.WriteBatch(ctx, rows(t, []*liqstreamv1.LiquidationEvent{first}, 0)); err != nil {
		t.Fatalf("writing revision 1: %v", err)
	}
	moved := at(g.Revise(first), utc(2026, 1, 15, 0, 1))
	// Enough other events for several blocks, the moved revision first.
	evs := append([]*liqstreamv1.LiquidationEvent{moved}, g.Events(2*store.InsertChunkRows, utc(2026, 1, 15, 1, 0), 24*time.Hour)...)
	cut := errors.New("connection lost")
	store.FailAfterFirstBlock(s, cut)
	if err := s.WriteBatch(ctx, rows(t, evs, 1)); err != nil {
		t.Fatalf("WriteBatch of a batch with a tombstone: %v (was it sent in blocks?)", err)
	}
	check(ctx, t, conn, append(evs, first), utc(2026, 1, 12, 0, 0), utc(2026, 1, 17, 0, 0))
}

// Every Decimal(38, 8) column reads back what the event said, NULL where it
// was empty, from the smallest unit to the largest value the column holds,
// in every block of an INSERT (the store lays these columns out itself, see
// appendDecimal8).
func TestDecimalColumnsReadBack(t *testing.T) {
	s, conn := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	values := []string{"", "0", "0.00000001", "1234.5", "92233720368.54775807", "92233720368.54775808",
		"184467440737.09551616", "999999999999999999999999999999.99999999", "", "7"}
	evs := synth.New(testsupport.Seed(t)).Events(store.InsertChunkRows+len(values), utc(2026, 2, 1, 0, 0), time.Hour)
	// Set the USD fields of the first and the last events (two blocks) from
	// values, each field shifted along it.
	set := func(ev *liqstreamv1.LiquidationEvent, i int) {
		v := func(k int) string { return values[(i+k)%len(values)] }
		ev.CollateralUsd, ev.DebtUsd, ev.BonusUsd, ev.ProtocolFeeUsd = v(0), v(1), v(2), v(3)
		ev.CollateralPrice = &liqstreamv1.Price{Usd: v(4)}
		ev.DebtPrice = &liqstreamv1.Price{Usd: v(5)}
	}
	var checked []*liqstreamv1.LiquidationEvent
	for i := range values {
		for _, ev := range []*liqstreamv1.LiquidationEvent{evs[i], evs[len(evs)-1-i]} {
			set(ev, i)
			checked = append(checked, ev)
		}
	}
	if err := s.WriteBatch(ctx, rows(t, evs, 0)); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	want := func(in string, nullable bool) string {
		switch {
		case in == "" && nullable:
			return "NULL"
		case in == "":
			return "0.00000000"
		}
		v, err := usd.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		return usd.Format(v)
	}
	// Read as Decimals, not toString: 18.16's toString garbles Decimal(38, 8)
	// values of 22 integer digits and more (schemas/README.md).
	for _, ev := range checked {
		var got [6]*decimal.Decimal
		if err := conn.QueryRow(ctx, `SELECT CAST(collateral_usd AS Nullable(Decimal(38, 8))), CAST(debt_usd AS Nullable(Decimal(38, 8))),
			bonus_usd, protocol_fee_usd, collateral_price_usd, debt_price_usd
			FROM liquidations WHERE event_id = @id`, clickhouse.Named("id", ev.GetEventId())).
			Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5]); err != nil {
			t.Fatalf("reading %s back: %v", ev.GetEventId(), err)
		}
		var gotS [6]string
		for i, d := range got {
			gotS[i] = "NULL"
			if d != nil {
				gotS[i] = d.StringFixed(usd.Decimals)
			}
		}
		exp := [6]string{want(ev.GetCollateralUsd(), false), want(ev.GetDebtUsd(), false),
			want(ev.GetBonusUsd(), true), want(ev.GetProtocolFeeUsd(), true),
			want(ev.GetCollateralPrice().GetUsd(), true), want(ev.GetDebtPrice().GetUsd(), true)}
		if gotS != exp {
			t.Errorf("event %s reads back %q, want %q", ev.GetEventId(), gotS, exp)
		}
	}
}
