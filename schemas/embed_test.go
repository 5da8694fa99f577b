package schemas

import (
	"errors"
	"regexp"
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
	for _, m := range ms {
		// 18.16 has no ADD COLUMN IF NOT EXISTS: an ALTER must be alone in
		// its migration, which is then applied and recorded as one unit.
		if stmts := m.Statements("x"); strings.Contains(m.SQL, "ALTER TABLE") && len(stmts) != 1 {
			t.Errorf("%s: an ALTER migration must hold exactly one statement, has %d", m.Name, len(stmts))
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
	names := QueryNames()
	if len(names) != 17 {
		t.Errorf("QueryNames() = %v, want 17 queries", names)
	}
	for _, name := range names {
		q, err := Query(name)
		if err != nil || !strings.Contains(q, "SELECT") {
			t.Errorf("Query(%q) = %q, %v", name, q, err)
		}
	}
	if _, err := Query("nope"); !errors.Is(err, ErrUnknownQuery) {
		t.Errorf("Query(nope) error = %v, want ErrUnknownQuery", err)
	}
}

// TestQueryHeaders holds every query to its documentation: a leading comment
// with a Parameters: and an Output: line that names every @parameter the
// code uses.
func TestQueryHeaders(t *testing.T) {
	param := regexp.MustCompile(`@[A-Za-z_][A-Za-z0-9_]*`)
	for _, name := range QueryNames() {
		q, _ := Query(name)
		var header, code []string
		inHeader := true
		for _, line := range strings.Split(q, "\n") {
			if inHeader && strings.HasPrefix(line, "--") {
				header = append(header, line)
				continue
			}
			inHeader = false
			code = append(code, line)
		}
		h := strings.Join(header, "\n")
		if !strings.Contains(h, "-- Parameters:") || !strings.Contains(h, "-- Output:") {
			t.Errorf("%s: the header comment lacks a Parameters: or an Output: line", name)
		}
		for _, p := range param.FindAllString(strings.Join(code, "\n"), -1) {
			if !strings.Contains(h, p) {
				t.Errorf("%s: parameter %s is not documented in the header", name, p)
			}
		}
	}
}
