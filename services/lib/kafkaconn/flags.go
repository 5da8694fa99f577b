package kafkaconn

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// EnvSASLPassword is the environment variable the command-line tools read the
// SASL password from (a password on the command line would show in the
// process list).
const EnvSASLPassword = "KAFKA_SASL_PASSWORD"

// FlagSASLPasswordFile is the flag naming a file that holds the SASL
// password (e.g. a mounted secret, or .data/kafka/sasl-password of the local
// broker).
const FlagSASLPasswordFile = "kafka-sasl-password-file"

// Flags are the TLS and SASL command-line flags shared by the liqstream
// tools; the brokers flag stays each tool's own.
type Flags struct {
	fs                                                                       *flag.FlagSet
	tls, insecure                                                            *bool
	caFile, certFile, keyFile, serverName, mechanism, username, passwordFile string
}

// AddFlags defines the flags on fs:
//
//	--kafka-tls, --kafka-tls-ca-file, --kafka-tls-cert-file, --kafka-tls-key-file,
//	--kafka-tls-server-name, --kafka-tls-insecure-skip-verify,
//	--kafka-sasl-mechanism, --kafka-sasl-username, --kafka-sasl-password-file
//
// The password itself is read from $KAFKA_SASL_PASSWORD or the file, never
// from a flag.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	f.tls = fs.Bool("kafka-tls", false, "connect to Kafka with TLS (kafka.tls.enabled)")
	fs.StringVar(&f.caFile, "kafka-tls-ca-file", "", "PEM file of the CA that signed the brokers' certificates; implies --kafka-tls (kafka.tls.ca_file)")
	fs.StringVar(&f.certFile, "kafka-tls-cert-file", "", "PEM client certificate; implies --kafka-tls (kafka.tls.cert_file)")
	fs.StringVar(&f.keyFile, "kafka-tls-key-file", "", "PEM key of the client certificate (kafka.tls.key_file)")
	fs.StringVar(&f.serverName, "kafka-tls-server-name", "", "name the brokers' certificates must be valid for; implies --kafka-tls (kafka.tls.server_name)")
	f.insecure = fs.Bool("kafka-tls-insecure-skip-verify", false, "accept any broker certificate, development only; implies --kafka-tls (kafka.tls.insecure_skip_verify)")
	fs.StringVar(&f.mechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (kafka.sasl.mechanism)")
	fs.StringVar(&f.username, "kafka-sasl-username", "", "SASL user (kafka.sasl.username); the password comes from $"+EnvSASLPassword+" or --"+FlagSASLPasswordFile)
	fs.StringVar(&f.passwordFile, FlagSASLPasswordFile, "", "file holding the SASL password (overrides $"+EnvSASLPassword+")")
	return f
}

// Apply sets on c what was given: each flag set on the command line (flags
// not given keep c's value, from a config file or the defaults), then the
// password from $KAFKA_SASL_PASSWORD (getenv; nil reads the process
// environment) and, over it, --kafka-sasl-password-file. Call it after
// parsing. A TLS flag other than --kafka-tls=false turns TLS on.
func (f *Flags) Apply(c *Conn, getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["kafka-tls"] {
		c.TLS.Enabled = *f.tls
	}
	for _, s := range []struct {
		name string
		dst  *string
		val  string
	}{
		{"kafka-tls-ca-file", &c.TLS.CAFile, f.caFile},
		{"kafka-tls-cert-file", &c.TLS.CertFile, f.certFile},
		{"kafka-tls-key-file", &c.TLS.KeyFile, f.keyFile},
		{"kafka-tls-server-name", &c.TLS.ServerName, f.serverName},
	} {
		if set[s.name] {
			*s.dst = s.val
			if s.val != "" && !set["kafka-tls"] {
				c.TLS.Enabled = true
			}
		}
	}
	if set["kafka-tls-insecure-skip-verify"] {
		c.TLS.InsecureSkipVerify = *f.insecure
		if *f.insecure && !set["kafka-tls"] {
			c.TLS.Enabled = true
		}
	}
	if set["kafka-sasl-mechanism"] {
		c.SASL.Mechanism = f.mechanism
	}
	if set["kafka-sasl-username"] {
		c.SASL.Username = f.username
	}
	if v := getenv(EnvSASLPassword); v != "" {
		c.SASL.Password = secret.String(v)
	}
	if f.passwordFile != "" {
		pw, err := ReadPasswordFile(f.passwordFile)
		if err != nil {
			return fmt.Errorf("--%s: %w", FlagSASLPasswordFile, err)
		}
		c.SASL.Password = pw
	}
	return nil
}

// ReadPasswordFile returns the password held by path, without surrounding
// white space (a trailing newline). Errors name the file, never its content.
func ReadPasswordFile(path string) (secret.String, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the password file: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	return secret.String(pw), nil
}
