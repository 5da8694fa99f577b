//go:build linux

package chaos_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	liqstreamv1 "github.com/liqstream/liqstream/proto/liqstreamv1"
	"github.com/liqstream/liqstream/services/aggregator/consume"
	"github.com/liqstream/liqstream/services/aggregator/internal/synth"
	"github.com/liqstream/liqstream/services/lib/topics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Environment knobs; see the package documentation.
const (
	envKills     = "LIQSTREAM_CHAOS_KILLS"
	envEvents    = "LIQSTREAM_CHAOS_EVENTS"
	envLoad      = "LIQSTREAM_CHAOS_LOAD"
	envRestartCH = "LIQSTREAM_CHAOS_RESTART_CLICKHOUSE"
	// envScripts points at another copy of scripts/ (whose .data holds a
	// private ClickHouse), to try the ClickHouse restart without touching
	// the shared server.
	envScripts = "LIQSTREAM_CHAOS_SCRIPTS"
)

type params struct {
	kills     int
	events    int
	load      time.Duration
	restartCH bool
}

func loadParams(t *testing.T) params {
	t.Helper()
	p := params{kills: 20, events: 20_000, load: 30 * time.Second, restartCH: os.Getenv(envRestartCH) == "1"}
	for _, v := range []struct {
		env string
		dst *int
	}{{envKills, &p.kills}, {envEvents, &p.events}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a non-negative integer", v.env, s)
			}
			*v.dst = n
		}
	}
	if s := os.Getenv(envLoad); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a positive duration such as 30s", envLoad, s)
		}
		p.load = d
	}
	return p
}

// buildAggregator builds cmd/aggregator once into a temporary directory.
func buildAggregator(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "aggregator")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, "../cmd/aggregator").CombinedOutput()
	if err != nil {
		t.Fatalf("building the aggregator binary: %v\n%s", err, out)
	}
	return bin
}

// instance is one aggregator process, restarted under the same static
// member id (and config file) after every kill.
type instance struct {
	id      string
	bin     string
	cfgPath string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	killed  bool // the current process was killed by the test
	exitErr error
	starts  int
}

func newInstance(t *testing.T, bin, dir, id, yaml string) *instance {
	t.Helper()
	in := &instance{id: id, bin: bin, cfgPath: filepath.Join(dir, id+".yaml"), logPath: filepath.Join(dir, id+".log")}
	if err := os.WriteFile(in.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

func (in *instance) start() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd != nil && !in.exited() {
		return fmt.Errorf("instance %s is already running", in.id)
	}
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	in.starts++
	fmt.Fprintf(logf, "---- start %d of %s at %s\n", in.starts, in.id, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(in.bin, "--config", in.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The process dies with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("starting %s: %w", in.id, err)
	}
	done := make(chan struct{})
	in.cmd, in.done, in.killed, in.exitErr = cmd, done, false, nil
	go func() {
		err := cmd.Wait()
		_ = logf.Close()
		in.mu.Lock()
		in.exitErr = err
		in.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited reports whether the current process has ended; call with mu held.
func (in *instance) exited() bool {
	if in.done == nil {
		return true
	}
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// running reports whether the current process is alive.
func (in *instance) running() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd != nil && !in.exited()
}

// crashed returns the exit error of a process that ended without being
// killed or stopped by the test, and forgets it.
func (in *instance) crashed() (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || !in.exited() || in.killed {
		return false, nil
	}
	err := in.exitErr
	in.killed = true // reported once
	return true, err
}

// signal sends sig and waits up to wait for the process to end.
func (in *instance) signal(sig syscall.Signal, wait time.Duration) error {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	if cmd == nil || in.exited() {
		in.mu.Unlock()
		return nil
	}
	in.killed = true
	in.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not exit within %s of %v", in.id, wait, sig)
	}
}

// sendSignal sends sig to the current process without waiting (SIGSTOP,
// SIGCONT).
func (in *instance) sendSignal(sig syscall.Signal) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || in.exited() {
		return nil
	}
	if err := in.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (in *instance) exitError() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.exitErr
}

// tail returns the last n lines of the instance's log.
func (in *instance) tail(n int) string {
	f, err := os.Open(in.logPath)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// countLog counts log lines of the instance that contain s.
func (in *instance) countLog(s string) int {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

// emission is one record of the load: an event (some revision of it, maybe
// an exact duplicate) or a poison record, produced at fraction at of the
// load's duration.
type emission struct {
	at     float64
	ev     *liqstreamv1.LiquidationEvent // nil for poison
	rec    *kgo.Record
	reason string // expected dead-letter reason of a poison record
}

// loadPlan is everything produced in one run and its ground truth.
type loadPlan struct {
	emissions []emission
	events    []*liqstreamv1.LiquidationEvent // every emitted event record
	distinct  int                             // distinct event ids
	poison    map[string]string               // key -> reason
	counts    map[string]int                  // what the plan holds, for the log
}

func schemaHeaders(schema string) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: topics.HeaderSchema, Value: []byte(schema)},
		{Key: topics.HeaderContentType, Value: []byte("application/x-protobuf")},
	}
}

// plan generates n distinct events over [from, from+span) and their
// follow-ups, seeded: revisions moving the USD values (some also moving the
// event to another hour of its day, some across midnight UTC to another day
// or month and back), retractions, re-confirmations after a
// retraction, exact duplicates (some re-keyed onto another partition, some
// arriving after a newer revision) and a few poison records.
func plan(t *testing.T, seed int64, n int, from time.Time, span time.Duration, topic string) loadPlan {
	t.Helper()
	g := synth.New(seed)
	rng := rand.New(rand.NewSource(seed ^ 0x5eed))
	lp := loadPlan{poison: map[string]string{}, counts: map[string]int{}}
	emit := func(ev *liqstreamv1.LiquidationEvent, at float64, key []byte) {
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if key == nil {
			key = topics.Key(ev.GetChainId(), ev.GetBorrower())
		}
		lp.emissions = append(lp.emissions, emission{at: at, ev: ev,
			rec: &kgo.Record{Topic: topic, Key: key, Value: b, Headers: schemaHeaders(topics.SchemaLiquidationEvent)}})
		lp.events = append(lp.events, ev)
	}
	later := func(at float64) float64 { return at + rng.Float64()*(1-at) }
	// Midnights strictly inside the span: a revision moved across one stays
	// inside the checked range. The first of the month is the
	// cross-partition case.
	var midnights []time.Time
	for d := synth.Day(from).Add(24 * time.Hour); d.Before(from.Add(span)); d = d.Add(24 * time.Hour) {
		midnights = append(midnights, d)
	}
	near := func(midnight time.Time, after bool) *timestamppb.Timestamp {
		off := time.Duration(1+rng.Intn(300)) * time.Second
		if !after {
			off = -off
		}
		return timestamppb.New(midnight.Add(off))
	}
	base := g.Events(n, from, span)
	lp.distinct = len(base)
	for _, ev := range base {
		at := rng.Float64() * 0.9
		// A reorg re-including the transaction just across midnight UTC:
		// the first revision sits minutes before (or after) a midnight and
		// every later one on either side of it.
		var midnight time.Time
		crossing := len(midnights) > 0 && rng.Intn(100) < 6
		if crossing {
			midnight = midnights[rng.Intn(len(midnights))]
			ev.BlockTime = near(midnight, rng.Intn(2) == 0)
		}
		emit(ev, at, nil)
		versions := []*liqstreamv1.LiquidationEvent{ev}
		cur := ev
		if crossing || rng.Intn(100) < 25 {
			for k := 1 + rng.Intn(3); k > 0; k-- {
				next := g.Revise(cur)
				switch {
				case crossing:
					after := !cur.GetBlockTime().AsTime().Before(midnight)
					if len(versions) == 1 || rng.Intn(2) == 0 { // the first revision always crosses
						after = !after
					}
					next.BlockTime = near(midnight, after)
					if synth.Day(next.GetBlockTime().AsTime()) != synth.Day(cur.GetBlockTime().AsTime()) {
						lp.counts["revisions crossing midnight"]++
						if midnight.Day() == 1 {
							lp.counts["revisions crossing a month"]++
						}
					}
				case rng.Intn(3) == 0: // re-included in another hour of the same day
					day := synth.Day(next.GetBlockTime().AsTime())
					next.BlockTime = timestamppb.New(day.Add(time.Duration(rng.Int63n(int64(24 * time.Hour)))).Truncate(time.Second))
					lp.counts["revisions moving the hour"]++
				}
				at = later(at)
				emit(next, at, nil)
				versions = append(versions, next)
				cur = next
				lp.counts["revisions"]++
			}
		}
		if rng.Intn(100) < 10 {
			r := synth.Retract(cur)
			at = later(at)
			emit(r, at, nil)
			versions = append(versions, r)
			cur = r
			lp.counts["retractions"]++
			if rng.Intn(5) == 0 {
				c := g.Revise(r)
				c.Status = liqstreamv1.Status_STATUS_CONFIRMED
				at = later(at)
				emit(c, at, nil)
				versions = append(versions, c)
				lp.counts["re-confirmations"]++
			}
		}
		if rng.Intn(100) < 12 {
			dup := versions[rng.Intn(len(versions))]
			var key []byte
			if rng.Intn(3) == 0 { // another key: probably another partition
				key = []byte(fmt.Sprintf("dup:%d", rng.Int63()))
				lp.counts["duplicates on another key"]++
			}
			// Anywhere after the first emission: an old revision may land
			// after a newer one.
			emit(dup, later(lp.emissions[len(lp.emissions)-len(versions)].at), key)
			lp.counts["exact duplicates"]++
		}
	}
	// Poison: bytes that are not an event, a future major version of the
	// contract, and an event the store rejects.
	invalid := proto.Clone(base[0]).(*liqstreamv1.LiquidationEvent)
	invalid.Status = liqstreamv1.Status_STATUS_UNSPECIFIED
	invalidBytes, _ := proto.Marshal(invalid)
	for i := 0; i < 12; i++ {
		key := fmt.Sprintf("poison:%d", i)
		rec := &kgo.Record{Topic: topic, Key: []byte(key)}
		switch i % 3 {
		case 0:
			rec.Value, rec.Headers = []byte{0xff, 0xff, 0xff, 0x01, byte(i)}, schemaHeaders(topics.SchemaLiquidationEvent)
			lp.poison[key] = consume.ReasonUndecodable
		case 1:
			rec.Value, rec.Headers = invalidBytes, schemaHeaders("liqstream.v2.LiquidationEvent")
			lp.poison[key] = consume.ReasonUnknownSchema
		case 2:
			rec.Value, rec.Headers = invalidBytes, schemaHeaders(topics.SchemaLiquidationEvent)
			lp.poison[key] = consume.ReasonInvalidEvent
		}
		lp.emissions = append(lp.emissions, emission{at: rng.Float64(), rec: rec, reason: lp.poison[key]})
	}
	sort.SliceStable(lp.emissions, func(i, j int) bool { return lp.emissions[i].at < lp.emissions[j].at })
	lp.counts["records"] = len(lp.emissions)
	lp.counts["distinct events"] = lp.distinct
	return lp
}

// produce sends the plan's records spread over d, in plan order, and
// returns after every record was acknowledged.
func produce(ctx context.Context, cl *kgo.Client, lp loadPlan, d time.Duration) error {
	begin := time.Now()
	var (
		mu       sync.Mutex
		firstErr error
	)
	for _, e := range lp.emissions {
		if wait := time.Until(begin.Add(time.Duration(e.at * float64(d)))); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		cl.Produce(ctx, e.rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("producing the load: %w", firstErr)
	}
	return nil
}

// committedEverything reports whether the group's committed offset equals
// the end offset on every partition of topic, and the records still behind.
func committedEverything(ctx context.Context, adm *kadm.Client, group, topic string) (bool, int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false, 0, err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, 0, err
	}
	var behind int64
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		c, found := committed.Lookup(topic, o.Partition)
		at := int64(0)
		if found && c.Err == nil && c.At >= 0 {
			at = c.At
		}
		if at != o.Offset {
			ok = false
			behind += o.Offset - at
		}
	})
	return ok, behind, nil
}

// clickhouseRestarter stops and starts the ClickHouse server of the scripts
// directory, and always starts it again at cleanup.
type clickhouseRestarter struct {
	dir  string
	env  []string
	mu   sync.Mutex
	down bool
}

func newClickHouseRestarter(t *testing.T, addr string) *clickhouseRestarter {
	t.Helper()
	dir := os.Getenv(envScripts)
	if dir == "" {
		dir = "../../../scripts"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clickhouse-stop.sh")); err != nil {
		t.Fatalf("%s=1 needs scripts/clickhouse-stop.sh: %v (set %s to the scripts directory)", envRestartCH, err, envScripts)
	}
	// The scripts must manage the very server the test writes to.
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	want := os.Getenv("CLICKHOUSE_PORT")
	if want == "" {
		want = "19000"
	}
	if port != want {
		t.Fatalf("%s=1 restarts the server of %s/clickhouse-*.sh on CLICKHOUSE_PORT=%s, but the test writes to %s: set CLICKHOUSE_PORT=%s",
			envRestartCH, dir, want, addr, port)
	}
	r := &clickhouseRestarter{dir: dir, env: os.Environ()}
	t.Cleanup(func() {
		r.mu.Lock()
		down := r.down
		r.mu.Unlock()
		if down {
			if err := r.run("clickhouse-start.sh", 90*time.Second); err != nil {
				t.Errorf("restarting ClickHouse at cleanup: %v; run scripts/clickhouse-start.sh", err)
			}
		}
	})
	return r
}

func (r *clickhouseRestarter) run(script string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(r.dir, script))
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	if script == "clickhouse-start.sh" {
		r.mu.Lock()
		r.down = false
		r.mu.Unlock()
	}
	return nil
}

// restart stops the server, waits down, and starts it; it returns how long
// the server was unreachable, measured around the scripts.
func (r *clickhouseRestarter) restart(down time.Duration) (time.Duration, error) {
	r.mu.Lock()
	r.down = true
	r.mu.Unlock()
	begin := time.Now()
	if err := r.run("clickhouse-stop.sh", 60*time.Second); err != nil {
		return 0, err
	}
	time.Sleep(down)
	if err := r.run("clickhouse-start.sh", 90*time.Second); err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// readDLQ returns the dead-letter reasons by record key found on topic,
// reading until want distinct keys were seen or ctx ends.
func readDLQ(ctx context.Context, brokers []string, topic string, want int) (map[string][]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := map[string][]string{}
	for len(out) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == topics.HeaderDLQReason {
					out[string(r.Key)] = append(out[string(r.Key)], string(h.Value))
				}
			}
		})
	}
	return out, nil
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
