package secret

import (
	"log/slog"
	"net/url"
)

// Redacted is what a secret prints as.
const Redacted = "<redacted>"

// String is a password or token. Reveal returns the value for the one place
// that needs it (a client's dial options).
type String string

// Reveal returns the secret value.
func (s String) Reveal() string { return string(s) }

func (s String) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s String) GoString() string { return s.String() }

// LogValue keeps slog from printing the value.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders from printing the value.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalYAML keeps yaml.v3 from printing the value.
func (s String) MarshalYAML() (any, error) { return s.String(), nil }

// URL is an endpoint URL that may carry an API key in its path, query or user
// info (as RPC provider URLs do). It prints as scheme://host/<redacted>.
type URL string

// Reveal returns the full URL.
func (u URL) Reveal() string { return string(u) }

func (u URL) String() string { return RedactURL(string(u)) }

// GoString keeps %#v from printing the key.
func (u URL) GoString() string { return u.String() }

// LogValue keeps slog from printing the key.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalText keeps encoders from printing the key.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalYAML keeps yaml.v3 from printing the key.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// RedactURL keeps the scheme and host of raw and hides everything that may
// hold a key: user info, path, query and fragment. Loopback URLs without a key
// still show their path, so local tools stay readable.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Redacted
	}
	out := u.Scheme + "://" + u.Host
	loopback := u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1"
	if loopback && u.User == nil && u.RawQuery == "" {
		return out + u.EscapedPath()
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		out += "/" + Redacted
	}
	return out
}
