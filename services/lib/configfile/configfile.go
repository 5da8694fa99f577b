package configfile

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// Load decodes the YAML file at path into dst, which already holds defaults.
// Keys absent from the file keep their defaults; unknown keys are an error.
// An empty path does nothing.
func Load(path string, dst any) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config file: %w", err)
	}
	return Decode(path, b, dst)
}

// Decode is Load for bytes already read; name appears in errors.
func Decode(name string, b []byte, dst any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w (fix the key or value named above)", name, err)
	}
	return nil
}

// FlagsSet returns the names of the flags set on the command line, so a
// service can apply only those over the file: flags that were not given keep
// the file's or the default's value.
func FlagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
