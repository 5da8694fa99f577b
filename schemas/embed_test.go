package schemas

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrationsSortedAndSplit(t *testing.T) {
	ms := Migrations()
	if len(ms) < 2 {
		t.Fatalf("want at least 2 migrations, got %d", len(ms))
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %d has version %d; versions must be 1, 2, 3... without gaps", i, m.Version)
		}
		stmts := m.Statements("liqstream")
		if len(stmts) == 0 {
			t.Errorf("%s has no statements", m.Name)
		}
		for _, s := range stmts {
			if strings.Contains(s, DatabasePlaceholder) {
				t.Errorf("%s: placeholder left in %q", m.Name, s)
			}
			if strings.HasSuffix(s, ";") {
				t.Errorf("%s: statement keeps its semicolon: %q", m.Name, s)
			}
		}
	}
	if n := len(ms[1].Statements("x")); n != 2 {
		t.Errorf("0002 has %d statements, want 2", n)
	}
}

func TestStatements(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"one", "CREATE TABLE {{database}}.t (a UInt8) ENGINE = Log;\n", []string{"CREATE TABLE db.t (a UInt8) ENGINE = Log"}},
		{"two with separator line", "-- c\nSELECT 1;\n;\nSELECT 2\n;\n", []string{"-- c\nSELECT 1", "SELECT 2"}},
		{"no trailing semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"comments only", "-- nothing\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Migration{SQL: tt.sql}.Statements("db")
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseMigrationsRejectsBadNames(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"no number", fstest.MapFS{"migrations/init.sql": {Data: []byte("SELECT 1")}}},
		{"duplicate", fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
			"migrations/1_b.sql":    {Data: []byte("SELECT 1")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseMigrations(tt.files); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestQuery(t *testing.T) {
	for _, name := range []string{"cycle_summary", "cycle_summary_raw", "daily_series", "daily_series_raw", "rollup_daily", "rollup_hourly", "rollup_hourly_clear"} {
		q, err := Query(name)
		if err != nil || !strings.Contains(q, "SELECT") {
			t.Errorf("Query(%q) = %q, %v", name, q, err)
		}
	}
	if _, err := Query("nope"); !errors.Is(err, ErrUnknownQuery) {
		t.Errorf("Query(nope) error = %v, want ErrUnknownQuery", err)
	}
	if len(QueryNames()) != 7 {
		t.Errorf("QueryNames() = %v", QueryNames())
	}
}
