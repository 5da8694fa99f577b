// Package configfile loads a service's YAML config file strictly: unknown keys
// are errors that name the key, so a typo never silently falls back to a
// default. Precedence for every service is defaults < file < flags: the caller
// fills defaults, Load overlays the file, then flags set explicitly overlay both.
package configfile
