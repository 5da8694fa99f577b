package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/liqstream/liqstream/services/aggregator/aggregator"
	"github.com/liqstream/liqstream/services/ingest/ingest"
	"github.com/liqstream/liqstream/services/lib/configfile"
	"github.com/liqstream/liqstream/services/lib/kafkaconn"
)

// Config runs `liqstream config check`: it reads the shared liqstream.yaml
// as every service would, validates the aggregator's view and each chain's
// ingest view, and prints a summary (secrets redacted) or every problem.
func Config(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 || args[0] != "check" {
		w, code := env.Stderr, 2
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			w, code = env.Stdout, 0
		} else if len(args) > 0 {
			fmt.Fprintf(w, "liqstream config: unknown subcommand %q\n", args[0])
		}
		fmt.Fprintln(w, "usage: liqstream config check [--file liqstream.yaml] [--chain polygon,base]\n\n"+
			"check validates the shared config file (format: deploy/config/README.md) with the\n"+
			"process environment for its ${VAR}s; exit 0 when every service would start with it, 2 otherwise.\n"+
			"--chain checks only those chains' ingest views (and the aggregator's), as when you run only them.")
		return code
	}
	fs := flags(env, "config check")
	file := fs.String("file", "liqstream.yaml", "the config file to check")
	only := fs.String("chain", "", "check only these chains (comma-separated slugs under chains); empty: every chain in the file")
	if code, ok := parse(fs, args[1:]); !ok {
		return code
	}
	f, err := openConfig(env, *file)
	if fileErrs := configfile.Errors(err); len(fileErrs) > 0 {
		var problems []string
		for _, e := range fileErrs {
			problems = append(problems, e.Error())
		}
		return reportProblems(env.Stderr, *file, problems)
	} else if err != nil {
		fmt.Fprintf(env.Stderr, "liqstream config check: %v (give the file with --file)\n", err)
		return 2
	}
	summary, problems := checkFile(f, splitList(*only))
	if len(problems) > 0 {
		return reportProblems(env.Stderr, *file, problems)
	}
	fmt.Fprintf(env.Stdout, "%s: OK\n", *file)
	for _, line := range summary {
		fmt.Fprintln(env.Stdout, "  "+line)
	}
	return 0
}

// openConfig reads the shared config file at path, expanding its ${VAR}s
// from env.
func openConfig(env Env, path string) (*configfile.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	return configfile.Parse(path, b, func(k string) (string, bool) {
		v := env.Getenv(k)
		return v, v != ""
	})
}

// decodeSection decodes one section of the shared config file at path over
// dst (holding defaults); an empty path leaves dst as it is.
func decodeSection(env Env, path, section string, dst any) error {
	if path == "" {
		return nil
	}
	f, err := openConfig(env, path)
	if err != nil {
		return err
	}
	return f.Decode(section, dst)
}

func reportProblems(w io.Writer, file string, problems []string) int {
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	fmt.Fprintf(w, "liqstream config check: %d problem(s) in %s; see deploy/config/README.md for every key\n", len(problems), file)
	return 2
}

// checkFile builds every service's view of f, as the services do, and
// validates it. It returns one summary line per view, or every problem in
// file order (each once, though every view reads the shared sections).
func checkFile(f *configfile.File, only []string) (summary, problems []string) {
	var found []*configfile.Error
	seen := map[string]bool{}
	// add records err's problems; a validation error (no *configfile.Error
	// in it) is attributed to path at line.
	add := func(path string, line int, err error) {
		if err == nil {
			return
		}
		errs := configfile.Errors(err)
		if len(errs) == 0 {
			errs = []*configfile.Error{{File: f.Name(), Line: line, Path: path, Problem: err.Error()}}
		}
		for _, e := range errs {
			if !seen[e.Error()] {
				seen[e.Error()] = true
				found = append(found, e)
			}
		}
	}

	agg, err := aggregator.FromFile(f)
	if err == nil {
		err = agg.Validate()
	}
	add("aggregator view (kafka, clickhouse, aggregator)", 0, err)
	if err == nil {
		summary = append(summary,
			fmt.Sprintf("%-11s %s", "kafka", describeConn(agg.Kafka.Conn)),
			fmt.Sprintf("%-11s addr %s  database %s  user %s  password %s", "clickhouse",
				strings.Join(agg.ClickHouse.Addr, ","), agg.ClickHouse.Database, agg.ClickHouse.Username, orNone(agg.ClickHouse.Password.String())),
			fmt.Sprintf("%-11s group %s  topic %s  batch %d records/%s  metrics %s", "aggregator",
				agg.Kafka.Group, agg.Kafka.Topic, agg.Batch.MaxRecords, agg.Batch.MaxWait, orNone(agg.MetricsAddr)))
	}

	slugs, chainsErr := ingest.FileChains(f)
	add("chains", 0, chainsErr)
	if len(only) > 0 {
		for _, c := range only {
			if !slices.Contains(slugs, c) {
				add("chains."+c, 0, fmt.Errorf("--chain %s: not under chains in the file (it has %s)", c, strings.Join(slugs, ", ")))
			}
		}
		slugs = slices.DeleteFunc(slugs, func(s string) bool { return !slices.Contains(only, s) })
	}
	keys, _ := f.Keys("chains")
	lineOf := map[string]int{}
	for _, k := range keys {
		lineOf[k.Name] = k.Line
	}
	for _, slug := range slugs {
		cfg, err := ingest.FromFile(f, slug)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			// Validate names keys of the chain's view: ingest overridden by
			// chains.<slug>.
			add("chains."+slug, lineOf[slug], err)
			continue
		}
		summary = append(summary, fmt.Sprintf("%-11s %s", slug, describeIngest(cfg)))
	}
	if len(slugs) == 0 && chainsErr == nil {
		summary = append(summary, "(no chains: the file configures no ingest)")
	}
	// File order; problems without a line last.
	sort.SliceStable(found, func(i, j int) bool {
		li, lj := found[i].Line, found[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	for _, e := range found {
		problems = append(problems, e.Error())
	}
	return summary, problems
}

// describeConn summarises a Kafka connection; the password is never shown.
func describeConn(c kafkaconn.Conn) string {
	s := "brokers " + strings.Join(c.Brokers, ",")
	if c.TLS.Enabled {
		s += "  tls on"
	} else {
		s += "  tls off"
	}
	if c.SASL.Mechanism != "" {
		s += fmt.Sprintf("  sasl %s user %s password %s", c.SASL.Mechanism, c.SASL.Username, orNone(c.SASL.Password.String()))
	}
	return s
}

// describeIngest summarises one chain's ingest; endpoints are redacted.
func describeIngest(c ingest.Config) string {
	var rpcs []string
	if c.RPCURL != "" {
		rpcs = append(rpcs, c.RPCURL.String())
	}
	for _, u := range c.RPCURLs {
		rpcs = append(rpcs, u.String())
	}
	to := c.To
	if to == "" {
		to = "safe head"
	}
	markets := "primary Aave V3"
	if len(c.Markets) > 0 {
		markets = strings.Join(c.Markets, ",")
	}
	return fmt.Sprintf("rpc %s  from %s  to %s  follow %v  markets %s  kafka %s",
		strings.Join(rpcs, ","), c.From, to, c.Follow, markets, strings.Join(c.Kafka.Brokers, ","))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
