// Package secret holds credentials and URLs with API keys so that they never
// appear in logs, errors or dumped configs: their String, GoString, LogValue,
// MarshalText and MarshalYAML forms are redacted.
package secret
