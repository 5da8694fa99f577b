package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql queries/*.sql
var files embed.FS

// DatabasePlaceholder is written in place of the database name in migration
// files; Migration.Statements replaces it.
const DatabasePlaceholder = "{{database}}"

// ErrUnknownQuery is returned (wrapped) by Query for a name with no file.
var ErrUnknownQuery = errors.New("unknown query")

// Migration is one versioned DDL file.
type Migration struct {
	// Version is the number the file name starts with (0001 → 1).
	Version int
	// Name is the file name without directory and extension,
	// e.g. "0001_liquidations".
	Name string
	// SQL is the file's text, with DatabasePlaceholder unreplaced.
	SQL string
}

// Statements splits the migration into statements for the given database: a
// statement ends with a line ending in ";". Comment-only and empty statements
// are dropped.
func (m Migration) Statements(database string) []string {
	var (
		out []string
		cur strings.Builder
	)
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
		if hasCode(s) {
			out = append(out, strings.ReplaceAll(s, DatabasePlaceholder, database))
		}
	}
	for _, line := range strings.Split(m.SQL, "\n") {
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			flush()
		}
	}
	flush()
	return out
}

// hasCode reports whether s holds anything besides comments and blanks.
func hasCode(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != ";" && !strings.HasPrefix(line, "--") {
			return true
		}
	}
	return false
}

// Migrations returns every migration, sorted by version. It panics if two
// files share a version or a file name does not start with a number, which a
// test of this package rules out for the embedded files.
func Migrations() []Migration {
	ms, err := parseMigrations(files)
	if err != nil {
		panic(err)
	}
	return ms
}

func parseMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	seen := map[int]string{}
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".sql")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number like 0001_", n)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, n, v)
		}
		seen[v] = n
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Query returns the SQL of queries/<name>.sql, e.g. Query("cycle_summary").
func Query(name string) (string, error) {
	b, err := files.ReadFile("queries/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("%w %q (want the name of a file in schemas/queries without .sql)", ErrUnknownQuery, name)
	}
	return string(b), nil
}

// QueryNames lists the embedded queries, sorted.
func QueryNames() []string {
	names, _ := fs.Glob(files, "queries/*.sql")
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimSuffix(path.Base(n), ".sql"))
	}
	sort.Strings(out)
	return out
}
