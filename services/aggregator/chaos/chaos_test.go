//go:build linux

package chaos_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/aggregator/migrate"
	"github.com/liqstream/liqstream/services/aggregator/query"
	"github.com/liqstream/liqstream/services/lib/testsupport"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/liqstream/liqstream/services/lib/usd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	instances      = 3
	sessionTimeout = 6 * time.Second
)

// TestChaosSinkNeverLosesOrDoubleCounts loads a seeded stream of events,
// revisions, retractions, duplicates and poison onto a 12-partition topic
// while three aggregator processes consume it in one group and are SIGKILLed
// and restarted at random moments (and ClickHouse is restarted once, when
// enabled), then checks every rollup bucket and window query against the
// ground truth. See the package documentation for the knobs.
func TestChaosSinkNeverLosesOrDoubleCounts(t *testing.T) {
	p := loadParams(t)
	brokers := testsupport.KafkaBrokers(t)
	chAddr := testsupport.ClickHouseAddr(t)
	seed := testsupport.Seed(t)
	rng := rand.New(rand.NewSource(seed))
	var restarter *clickhouseRestarter
	if p.restartCH {
		restarter = newClickHouseRestarter(t, chAddr)
	}
	began := time.Now()
	bin := buildAggregator(t)
	built := time.Since(began)

	db, conn := testsupport.ClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), p.load+4*time.Minute)
	defer cancel()
	if _, err := migrate.Run(ctx, conn, db, quietLog()); err != nil {
		t.Fatalf("migrating %s: %v", db, err)
	}
	topic := testsupport.UniqueName("liqstream_chaos")
	dlqTopic := topic + "_dlq"
	group := testsupport.UniqueName("liqstream_chaos_group")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		_, _ = adm.DeleteGroup(dctx, group)
		_, _ = adm.DeleteTopics(dctx, topic, dlqTopic)
		cl.Close()
	})
	for name, parts := range map[string]int32{topic: topics.Partitions, dlqTopic: 1} {
		resp, err := adm.CreateTopic(ctx, parts, -1, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating topic %s: %v", name, err)
		}
	}

	from := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	span := 4 * 24 * time.Hour
	lp := plan(t, seed, p.events, from, span, topic)
	t.Logf("seed %d: %v", seed, lp.counts)

	// Logs live outside t.TempDir so a failed run keeps them.
	logDir, err := os.MkdirTemp("", "liqstream-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	var ins []*instance
	for i := 0; i < instances; i++ {
		id := fmt.Sprintf("chaos-%d", i)
		ins = append(ins, newInstance(t, bin, logDir, id, fmt.Sprintf(`kafka:
  brokers: [%s]
clickhouse:
  addr: [%s]
  database: %s
  query_timeout: 20s
aggregator:
  kafka:
    group: %s
    topic: %s
    dlq_topic: %s
    instance_id: %s
    session_timeout: %s
  batch:
    max_records: 2000
    max_wait: 200ms
    shutdown_timeout: 10s
  metrics_addr: ""
`, strings.Join(brokers, ", "), chAddr, db, group, topic, dlqTopic, id, sessionTimeout)))
	}
	t.Cleanup(func() {
		for _, in := range ins {
			_ = in.signal(syscall.SIGKILL, 10*time.Second)
		}
		if t.Failed() {
			for _, in := range ins {
				t.Logf("last log lines of %s (%s):\n%s", in.id, in.logPath, in.tail(15))
			}
			t.Logf("aggregator logs kept in %s", logDir)
		} else {
			_ = os.RemoveAll(logDir)
		}
	})
	for _, in := range ins {
		if err := in.start(); err != nil {
			t.Fatal(err)
		}
	}

	// The load, the kills and the ClickHouse restart run together.
	loadStart := time.Now()
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, cl, lp, p.load) }()

	chRestarted := make(chan string, 1)
	if restarter != nil {
		at := time.Duration((0.3 + 0.3*rng.Float64()) * float64(p.load))
		down := time.Second + time.Duration(rng.Int63n(int64(2*time.Second)))
		go func() {
			time.Sleep(at)
			took, err := restarter.restart(down)
			if err != nil {
				chRestarted <- "failed: " + err.Error()
				return
			}
			chRestarted <- fmt.Sprintf("stopped at %s into the load, unreachable for %s", at.Round(time.Millisecond), took.Round(time.Millisecond))
		}()
	}

	// The fault schedule: p.kills SIGKILLs, plus a quarter as many SIGTERMs
	// with a short grace period before a SIGKILL (a supervisor stopping a
	// member mid-window), plus a few SIGSTOP pauses longer than the session
	// timeout (a zombie that wakes up after its partitions moved on).
	type fault struct {
		at   time.Duration
		kind string
	}
	var faults []fault
	for kind, n := range map[string]int{"kill": p.kills, "term": p.kills / 4, "pause": (p.kills + 9) / 10} {
		for i := 0; i < n; i++ {
			faults = append(faults, fault{at: time.Duration(rng.Float64() * float64(p.load)), kind: kind})
		}
	}
	sort.Slice(faults, func(i, j int) bool {
		if faults[i].at != faults[j].at {
			return faults[i].at < faults[j].at
		}
		return faults[i].kind < faults[j].kind
	})
	restartAt := make([]time.Time, instances) // zero: not waiting for a restart
	resumeAt := make([]time.Time, instances)  // zero: not paused
	done := map[string]int{}
	longOutages := 0
	var loadErr error
	loadDone := false
	for len(faults) > 0 || !loadDone {
		if ctx.Err() != nil {
			t.Fatalf("chaos phase did not end: faults done %v, %d left, load done %v", done, len(faults), loadDone)
		}
		now := time.Now()
		for i, in := range ins {
			if crashed, err := in.crashed(); crashed {
				t.Errorf("%s exited on its own (%v); last log lines:\n%s", in.id, err, in.tail(10))
				restartAt[i] = now
			}
			if !resumeAt[i].IsZero() && !now.Before(resumeAt[i]) {
				_ = in.sendSignal(syscall.SIGCONT)
				resumeAt[i] = time.Time{}
			}
			if !restartAt[i].IsZero() && !now.Before(restartAt[i]) {
				if err := in.start(); err != nil {
					t.Fatal(err)
				}
				restartAt[i] = time.Time{}
			}
		}
		if len(faults) > 0 && now.Sub(loadStart) >= faults[0].at {
			var alive []int
			for i, in := range ins {
				if restartAt[i].IsZero() && resumeAt[i].IsZero() && in.running() {
					alive = append(alive, i)
				}
			}
			if len(alive) > 0 {
				f := faults[0]
				faults = faults[1:]
				i := alive[rng.Intn(len(alive))]
				switch f.kind {
				case "kill":
					if err := ins[i].signal(syscall.SIGKILL, 10*time.Second); err != nil {
						t.Fatal(err)
					}
				case "term":
					// Escalates to SIGKILL when the grace period ends first.
					_ = ins[i].signal(syscall.SIGTERM, 200*time.Millisecond+time.Duration(rng.Int63n(int64(2*time.Second))))
				case "pause":
					if err := ins[i].sendSignal(syscall.SIGSTOP); err != nil {
						t.Fatal(err)
					}
					resumeAt[i] = time.Now().Add(sessionTimeout + time.Second + time.Duration(rng.Int63n(int64(2*time.Second))))
				}
				done[f.kind]++
				if f.kind != "pause" {
					// Mostly back at once (static membership keeps the
					// partitions), sometimes after the session timeout (the
					// partitions move to the others and back).
					var delay time.Duration
					switch r := rng.Intn(100); {
					case r < 60:
						delay = time.Duration(rng.Int63n(int64(300 * time.Millisecond)))
					case r < 85:
						delay = time.Second + time.Duration(rng.Int63n(int64(2*time.Second)))
					default:
						delay = sessionTimeout + time.Duration(rng.Int63n(int64(2*time.Second)))
						longOutages++
					}
					restartAt[i] = time.Now().Add(delay)
				}
			}
		}
		select {
		case loadErr = <-produced:
			loadDone = true
			if loadErr != nil {
				t.Fatal(loadErr)
			}
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	loaded := time.Since(loadStart)
	chNote := "not restarted (set " + envRestartCH + "=1)"
	if restarter != nil {
		select {
		case chNote = <-chRestarted:
		case <-time.After(2 * time.Minute):
			t.Fatal("the ClickHouse restart did not finish within 2 minutes")
		}
		if strings.HasPrefix(chNote, "failed") {
			t.Fatalf("restarting ClickHouse %s", chNote)
		}
	}

	// Every instance runs again; wait until the group committed everything.
	for i, in := range ins {
		if !resumeAt[i].IsZero() {
			_ = in.sendSignal(syscall.SIGCONT)
		}
		if !in.running() {
			if err := in.start(); err != nil {
				t.Fatal(err)
			}
		}
		restartAt[i], resumeAt[i] = time.Time{}, time.Time{}
	}
	drainStart := time.Now()
	var behind int64
	testsupport.Eventually(t, 2*time.Minute, 250*time.Millisecond, func() bool {
		for _, in := range ins {
			if crashed, err := in.crashed(); crashed {
				t.Errorf("%s exited on its own while draining (%v); last log lines:\n%s", in.id, err, in.tail(10))
				_ = in.start()
			}
		}
		ok, b, err := committedEverything(ctx, adm, group, topic)
		if err != nil {
			t.Logf("reading group offsets: %v", err)
			return false
		}
		behind = b
		return ok
	}, "group %s never committed every record (%d behind)", group, behind)
	drained := time.Since(drainStart)

	verify(ctx, t, conn, lp, from, from.Add(span), rng)

	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	defer dcancel()
	dlq, err := readDLQ(dctx, brokers, dlqTopic, len(lp.poison))
	if err != nil {
		t.Fatal(err)
	}
	for key, reason := range lp.poison {
		got := dlq[key]
		if len(got) == 0 {
			t.Errorf("poison record %s is not on the dead-letter topic", key)
		}
		for _, r := range got {
			if r != reason {
				t.Errorf("poison record %s dead-lettered with reason %q, want %q", key, r, reason)
			}
		}
	}
	for key := range dlq {
		if _, ok := lp.poison[key]; !ok {
			t.Errorf("record %s was dead-lettered but is a valid event", key)
		}
	}

	// A graceful stop (SIGTERM) flushes and exits 0 within its timeout.
	for _, in := range ins {
		if err := in.signal(syscall.SIGTERM, 20*time.Second); err != nil {
			t.Error(err)
		} else if err := in.exitError(); err != nil {
			t.Errorf("%s exited with %v after SIGTERM, want 0; last log lines:\n%s", in.id, err, in.tail(10))
		}
	}
	retries := 0
	for _, in := range ins {
		retries += in.countLog("retrying")
	}
	t.Logf("%d records (%d distinct events, %d poison) over %s with %d SIGKILLs, %d SIGTERMs with a 0.2-2.2s grace, %d SIGSTOP pauses beyond the session timeout (%d restarts after the %s session timeout) and %d process starts; ClickHouse %s; %d retry log lines; drained in %s; build %s; total %s",
		len(lp.emissions), lp.distinct, len(lp.poison), loaded.Round(time.Millisecond), done["kill"], done["term"], done["pause"], longOutages, sessionTimeout,
		starts(ins), chNote, retries, drained.Round(time.Millisecond), built.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

func starts(ins []*instance) int {
	n := 0
	for _, in := range ins {
		in.mu.Lock()
		n += in.starts
		in.mu.Unlock()
	}
	return n
}

// verify compares every hourly and daily rollup bucket, the window queries
// (rollup and raw variants) and the deduplicated raw table with the ground
// truth of lp.
func verify(ctx context.Context, t *testing.T, conn driver.Conn, lp loadPlan, from, to time.Time, rng *rand.Rand) {
	t.Helper()
	latest := synth.Latest(lp.events)

	// FINAL keeps one row per (chain, day, event): one per distinct event,
	// plus a RETRACTED tombstone on every other day a moved event visited.
	// No event may be confirmed on two days.
	var distinct, twice, tombstoned uint64
	if err := conn.QueryRow(ctx, `SELECT uniqExact(event_id), countIf(confirmed > 1), countIf(keys > 1) FROM (
		SELECT event_id, countIf(status = 'CONFIRMED') AS confirmed, count() AS keys
		FROM liquidations FINAL GROUP BY event_id)`).Scan(&distinct, &twice, &tombstoned); err != nil {
		t.Fatal(err)
	}
	if distinct != uint64(lp.distinct) {
		t.Errorf("liquidations FINAL holds %d distinct events, want %d", distinct, lp.distinct)
	}
	if twice > 0 {
		t.Errorf("liquidations FINAL: %d events are confirmed on more than one day", twice)
	}
	if want := uint64(lp.counts["revisions crossing midnight"]); want > 0 && tombstoned == 0 {
		t.Errorf("liquidations FINAL: no event on several days, but the load moved %d revisions across midnight", want)
	}
	t.Logf("liquidations FINAL: %d distinct events, %d of them tombstoned on another day", distinct, tombstoned)

	for _, r := range []struct {
		name, table, bucket string
		of                  func(time.Time) time.Time
	}{
		{"hourly rollup", "liquidations_hourly", "hour", synth.Hour},
		{"daily rollup", "liquidations_daily", "day", synth.Day},
	} {
		got := map[synth.Key]synth.Totals{}
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT chain_id, max(chain), toDateTime(%[2]s, 'UTC'), toString(sum(collateral_usd)), toString(sum(debt_usd)),
			sum(events) AS n, toUInt64(uniqExactMerge(txs)), toUInt64(uniqExactMerge(borrowers))
			FROM %[1]s FINAL GROUP BY chain_id, %[2]s HAVING n > 0`, r.table, r.bucket))
		if err != nil {
			t.Fatalf("reading the %s: %v", r.name, err)
		}
		for rows.Next() {
			var (
				k          synth.Key
				tot        synth.Totals
				coll, debt string
			)
			if err := rows.Scan(&k.ChainID, &tot.Chain, &k.Start, &coll, &debt, &tot.Events, &tot.Txs, &tot.Borrowers); err != nil {
				t.Fatal(err)
			}
			tot.CollateralUSD, _ = usd.Parse(coll)
			tot.DebtUSD, _ = usd.Parse(debt)
			k.Start = k.Start.UTC()
			got[k] = tot
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		synth.Compare(t, r.name, got, synth.Group(latest, from, to, r.of))
	}

	for name, fn := range map[string]func(context.Context, driver.Conn, time.Time, time.Time) ([]query.DailyPoint, error){
		"DailySeries": query.DailySeries, "DailySeriesRaw": query.DailySeriesRaw,
	} {
		pts, err := fn(ctx, conn, from, to)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[synth.Key]synth.Totals{}
		for _, p := range pts {
			got[synth.Key{ChainID: p.ChainID, Start: p.Day}] = synth.FromSummary(p.ChainSummary)
		}
		synth.Compare(t, name, got, synth.Group(latest, from, to, synth.Day))
	}

	// The whole range and random hour-aligned windows: exact distinct counts
	// over each window, not sums of buckets.
	windows := [][2]time.Time{{from, to}}
	hours := int(to.Sub(from) / time.Hour)
	for i := 0; i < 4; i++ {
		a := rng.Intn(hours)
		b := a + 1 + rng.Intn(hours-a)
		windows = append(windows, [2]time.Time{from.Add(time.Duration(a) * time.Hour), from.Add(time.Duration(b) * time.Hour)})
	}
	synth.CompareWindows(ctx, t, conn, latest, windows)
}
