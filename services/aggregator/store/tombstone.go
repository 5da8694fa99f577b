package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxDayShift is how many UTC days a later revision may move an event's
// block time, forwards or backwards, and still have its earlier revisions'
// days tombstoned. A reorg re-includes a transaction minutes (at most hours)
// later; a week is generous and keeps the lookup on the primary key (chain,
// day) instead of scanning a chain's whole history.
const maxDayShift = 7

// lookupSQL reads, for some events of one chain, the highest revision each
// (block_date, event_id) key holds and that revision's block time. It reads
// the raw rows, not FINAL: the highest revision of a key is what FINAL keeps.
// GROUP BY is on String and Date only (ClickHouse 18.16 crashes grouping by a
// Decimal), and the sets are IN tuples (18.16 rejects IN arrays).
const lookupSQL = `SELECT event_id, block_date, max(revision), argMax(block_time, revision), maxIf(revision, tombstone = 0)
FROM liquidations
WHERE chain_id = @chain_id AND block_date IN @days AND event_id IN @event_ids
GROUP BY event_id, block_date`

// dayTop is the highest revision one (chain, day, event) key holds.
type dayTop struct {
	revision uint64
	// blockTime is the block time of that revision's row.
	blockTime time.Time
	// real is the highest revision of the key's rows that are not
	// tombstones (consumed records), 0 when it holds only tombstones.
	real uint64
}

// tombstones returns the rows that keep an event counted on one UTC day only
// when a later revision moved it to another day (see schemas/README.md,
// "One row per event").
//
// ReplacingMergeTree collapses the revisions of an event only within one
// sort key (chain_id, block_date, event_id), so when revisions of an event
// sit on several days, FINAL keeps one row on each. For every event of rows
// with a revision above 1, tombstones looks up the days within maxDayShift
// that already hold the event (one query per chain), adds the days of rows
// itself, and takes W, the highest revision of a consumed record (not a
// tombstone) over all of them. Every day whose highest revision (tombstones
// included) is below W gets a tombstone: a RETRACTED row marked tombstone =
// 1 at revision W, with the block time of the row it overrides (so it stays
// in that day, hour and month partition) and the other fields of the event's
// highest revision in rows. A revision is one version of the event, so W's
// record is on one day only and a tombstone never shares a day and a
// revision with a record: its revision is above every record of its day
// that this writer knows, FINAL keeps it whatever the insert order, and an
// older revision replayed into that day later stays below it. A writer that
// does not see every record yet (two processes writing one event at once)
// writes a tombstone at a lower W that a higher record of that day beats;
// the event's highest revision, read on its own partition after all the
// lower ones, sees every day and completes the tombstones.
//
// A first revision needs no lookup: every revision of an event travels on the
// same Kafka partition (keyed by chain and borrower) in revision order and is
// acknowledged only after it was written, so when revision 1 arrives either
// nothing of the event is stored yet, or it is a copy of a revision 1 that was
// written before (or in the same batch as) the higher revision whose
// tombstones already dominate it.
func (s *Store) tombstones(ctx context.Context, rows []Row) ([]Row, error) {
	// Events with a revision above 1, by chain.
	revised := map[uint64]map[string]bool{}
	for i := range rows {
		ev := rows[i].ev
		if ev.GetRevision() <= 1 {
			continue
		}
		if revised[ev.GetChainId()] == nil {
			revised[ev.GetChainId()] = map[string]bool{}
		}
		revised[ev.GetChainId()][ev.GetEventId()] = true
	}
	if len(revised) == 0 {
		return nil, nil
	}
	chains := make([]uint64, 0, len(revised))
	for c := range revised {
		chains = append(chains, c)
	}
	sort.Slice(chains, func(i, j int) bool { return chains[i] < chains[j] })

	var out []Row
	for _, chain := range chains {
		ids := revised[chain]
		// The batch's rows of these events, and the days to look at.
		var mine []*Row
		days := map[string]bool{}
		for i := range rows {
			r := &rows[i]
			if r.ev.GetChainId() != chain || !ids[r.ev.GetEventId()] {
				continue
			}
			mine = append(mine, r)
			for d := -maxDayShift; d <= maxDayShift; d++ {
				days[r.Day().AddDate(0, 0, d).Format(time.DateOnly)] = true
			}
		}
		existing, err := s.lookupTops(ctx, chain, ids, days)
		if err != nil {
			return nil, err
		}
		out = append(out, planTombstones(mine, existing)...)
	}
	return out, nil
}

// lookupTops returns, by event id and UTC day (Unix seconds), the highest
// revision the raw table holds for events ids of chain on days.
func (s *Store) lookupTops(ctx context.Context, chain uint64, ids, days map[string]bool) (map[string]map[int64]dayTop, error) {
	idList := make([]any, 0, len(ids))
	for id := range ids {
		idList = append(idList, id)
	}
	dayList := make([]any, 0, len(days))
	for d := range days {
		dayList = append(dayList, d)
	}
	rs, err := s.conn.Query(ctx, lookupSQL,
		clickhouse.Named("chain_id", chain),
		clickhouse.Named("days", clickhouse.GroupSet{Value: dayList}),
		clickhouse.Named("event_ids", clickhouse.GroupSet{Value: idList}))
	if err != nil {
		return nil, fmt.Errorf("looking up earlier revisions of %d events of chain %d: %w", len(ids), chain, err)
	}
	defer func() { _ = rs.Close() }()
	out := map[string]map[int64]dayTop{}
	for rs.Next() {
		var (
			id  string
			day time.Time
			top dayTop
		)
		if err := rs.Scan(&id, &day, &top.revision, &top.blockTime, &top.real); err != nil {
			return nil, fmt.Errorf("reading earlier revisions of chain %d: %w", chain, err)
		}
		if out[id] == nil {
			out[id] = map[int64]dayTop{}
		}
		d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
		top.blockTime = top.blockTime.UTC()
		out[id][d.Unix()] = top
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading earlier revisions of chain %d: %w", chain, err)
	}
	return out, nil
}

// planTombstones decides the tombstones of the events of rows (one chain)
// given what the table already holds (lookupTops' answer); see tombstones.
func planTombstones(rows []*Row, existing map[string]map[int64]dayTop) []Row {
	type event struct {
		tops map[int64]dayTop
		// best is the event's highest revision in rows.
		best *Row
	}
	events := map[string]*event{}
	var order []string
	for _, r := range rows {
		id := r.ev.GetEventId()
		e := events[id]
		if e == nil {
			e = &event{tops: map[int64]dayTop{}}
			for d, top := range existing[id] {
				e.tops[d] = top
			}
			events[id] = e
			order = append(order, id)
		}
		if e.best == nil || r.ev.GetRevision() > e.best.ev.GetRevision() {
			e.best = r
		}
		d := r.Day().Unix()
		top := e.tops[d]
		if rev := r.ev.GetRevision(); rev > top.revision {
			top.revision, top.blockTime = rev, r.blockTime
		}
		top.real = max(top.real, r.ev.GetRevision())
		e.tops[d] = top
	}
	sort.Strings(order)
	var out []Row
	for _, id := range order {
		e := events[id]
		// W comes from consumed records only: a tombstone seen by a
		// concurrent writer may carry a revision whose real row this
		// writer does not see yet, and must not be copied onto that row's
		// own day.
		var w uint64
		for _, top := range e.tops {
			w = max(w, top.real)
		}
		days := make([]int64, 0, len(e.tops))
		for d, top := range e.tops {
			if top.revision < w {
				days = append(days, d)
			}
		}
		sort.Slice(days, func(i, j int) bool { return days[i] < days[j] })
		for _, d := range days {
			out = append(out, e.best.tombstoneAt(e.tops[d].blockTime, w))
		}
	}
	return out
}

// tombstoneAt returns a copy of r, marked as a tombstone, that retracts the
// event at revision on the day of blockTime.
func (r *Row) tombstoneAt(blockTime time.Time, revision uint64) Row {
	t := *r
	ev := proto.Clone(r.ev).(*liqstreamv1.LiquidationEvent)
	ev.Revision = revision
	ev.Status = liqstreamv1.Status_STATUS_RETRACTED
	ev.BlockTime = timestamppb.New(blockTime)
	t.ev = ev
	t.status = "RETRACTED"
	t.blockTime = blockTime
	t.tombstone = true
	return t
}
