package command

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/testsupport"
)

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }, Version: "test"}, args)
	return code, out.String(), errOut.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		errText string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"demo bad date", []string{"demo", "--from", "Jan 1"}, 2, "is not a date"},
		{"demo to before from", []string{"demo", "--from", "2026-03-01", "--to", "2026-01-01"}, 2, "after --from"},
		{"demo stray argument", []string{"demo", "extra"}, 2, "unexpected arguments"},
		{"tail unknown chain", []string{"tail", "--chain", "solana"}, 2, "use one of"},
		{"tail bad min usd", []string{"tail", "--min-usd", "lots"}, 2, "--min-usd"},
		{"migrate unknown flag", []string{"migrate", "--bogus"}, 2, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.errText) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.errText)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := run(t, nil)
	if code != 0 || !strings.Contains(out, "demo") || !strings.Contains(out, "migrate") || !strings.Contains(out, "tail") {
		t.Fatalf("help: exit %d, %q", code, out)
	}
	if code, out, _ := run(t, nil, "version"); code != 0 || strings.TrimSpace(out) != "liqstream test" {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

// TestMigrateTwice applies the schema to a fresh database on the real
// ClickHouse, then again: the second run applies nothing.
func TestMigrateTwice(t *testing.T) {
	addr := testsupport.ClickHouseAddr(t)
	db, _ := testsupport.ClickHouseDB(t)
	code, out, stderr := run(t, nil, "migrate", "--clickhouse-addr", addr, "--database", db)
	if code != 0 || !strings.Contains(out, "applied 0001") {
		t.Fatalf("first migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = run(t, nil, "migrate", "--clickhouse-addr", addr, "--database", db)
	if code != 0 || !strings.Contains(out, "0 migration(s) applied") {
		t.Fatalf("second migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, _, stderr = run(t, nil, "migrate", "--clickhouse-addr", "127.0.0.1:1", "--database", db)
	if code != 1 || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Fatalf("unreachable ClickHouse: exit %d, %q", code, stderr)
	}
}
