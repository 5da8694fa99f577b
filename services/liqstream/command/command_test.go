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
		{"demo stray argument", []string{"demo", "extra"}, 2, "unexpected argument"},
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

func TestDecodeCommand(t *testing.T) {
	good := `{"address":"0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9","topics":["0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286","0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2","0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2","0x0000000000000000000000001db64086b4cda94884e4fc296799a512dfc564ca"],"data":"0x0000000000000000000000000000000000000000000000000ca4142228cafe480000000000000000000000000000000000000000000000000d45e1f0aad52498000000000000000000000000b6569481dccddd527c2b0e8ba32f494e52224ca10000000000000000000000000000000000000000000000000000000000000000","blockNumber":"0x1082dbb","transactionHash":"0x2077a54ecae4a06c553f96c120acc0237887fdd1fc2596aab103f6681712974d","logIndex":"0xe"}`
	tests := []struct {
		name, stdin string
		args        []string
		code        int
		out, errOut string
	}{
		{"ok", good, []string{"decode", "--chain", "1"}, 0, `"market":"AaveV2Ethereum"`, ""},
		{"one bad line", good + "\n{}\n", []string{"decode", "--chain", "ethereum"}, 1, `"debt_to_cover":"910875161581518408"`, "1 of 2 logs could not be decoded"},
		{"no chain", good, []string{"decode"}, 2, "", "--chain is required"},
		{"unknown chain", good, []string{"decode", "--chain", "solana"}, 2, "", "use one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), Env{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(tt.stdin),
				Getenv: func(string) string { return "" }, Version: "test"}, tt.args)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errOut.String(), tt.errOut) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, %q, %q", code, out.String(), errOut.String(), tt.code, tt.out, tt.errOut)
			}
		})
	}
}
