package report

import (
	"fmt"
	"time"
)

// ParseTime reads a UTC date (2026-01-01, meaning its midnight) or an
// RFC3339 time (2026-01-01T12:00:00Z).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date: want a UTC date like 2026-01-01 or an RFC3339 time like 2026-01-01T12:00:00Z", s)
}

func aligned(t time.Time, d time.Duration) bool { return t.UTC().Truncate(d).Equal(t) }

func fmtTime(t time.Time) string {
	if aligned(t, 24*time.Hour) {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format(time.RFC3339)
}
