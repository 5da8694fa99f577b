package secret

import (
	"log/slog"
	"net/url"
	"strings"
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
// still show their path, so local tools stay readable ("/polygon"); a path
// segment of minKeyLen characters or more counts as a key (a tunnel to a
// provider, "/v2/<key>").
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
	if loopback && u.User == nil && u.RawQuery == "" && !keyLike(u.EscapedPath()) {
		return out + u.EscapedPath()
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		out += "/" + Redacted
	}
	return out
}

// minKeyLen is the length from which a path segment may be an API key:
// provider keys are 20 to 64 characters, chain names and ids far shorter.
const minKeyLen = 16

// keyLike reports whether a segment of path is minKeyLen or longer.
func keyLike(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if len(seg) >= minKeyLen {
			return true
		}
	}
	return false
}
