package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// The SASL mechanisms a Conn supports (SASL.Mechanism, case-insensitive).
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

const (
	mechanismsForHumans = MechanismPlain + ", " + MechanismSCRAMSHA256 + " or " + MechanismSCRAMSHA512
	// defaultKey is where services keep their Conn; errors of Opts and
	// TLSConfig name keys under it.
	defaultKey    = "kafka"
	exampleBroker = "127.0.0.1:9092"
)

// Conn says how to reach and authenticate to a Kafka cluster. Services embed
// it inline in their "kafka" section, so its keys are kafka.brokers,
// kafka.tls.* and kafka.sasl.*.
type Conn struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// TLS encrypts the connections (off by default).
	TLS TLS `yaml:"tls"`
	// SASL authenticates the client (off by default).
	SASL SASL `yaml:"sasl"`
}

// TLS configures encrypted connections to the brokers.
type TLS struct {
	// Enabled turns TLS on. The other fields need it.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CA(s) that signed the brokers'
	// certificates; empty trusts the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that require client certificates (ssl.client.auth=required).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the brokers' certificates must be valid for;
	// empty uses each broker's host as dialed.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate: traffic is
	// encrypted but the broker is not authenticated. Development only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL configures client authentication.
type SASL struct {
	// Mechanism is "" (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	// PLAIN sends the password as is and is accepted only over TLS.
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user.
	Username string `yaml:"username"`
	// Password is the user's password; it prints as <redacted>.
	Password secret.String `yaml:"password"`
}

// keyer names the keys under prefix ("" for top-level).
type keyer string

func (k keyer) of(name string) string {
	if k == "" {
		return name
	}
	return string(k) + "." + name
}

// Mechanism returns the canonical mechanism name ("" for no SASL) and whether
// it is supported.
func (s SASL) mechanism() (string, bool) {
	switch m := strings.ToUpper(strings.TrimSpace(s.Mechanism)); m {
	case "", MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		return m, true
	default:
		return m, false
	}
}

// MechanismName returns the canonical name of the configured mechanism
// (upper case), "" when SASL is off.
func (c Conn) MechanismName() string {
	m, _ := c.SASL.mechanism()
	return m
}

// Validate reports the first invalid setting, naming its key under key (e.g.
// "kafka" gives "kafka.sasl.password"; "" names top-level keys). It reads the
// TLS files, so a missing or malformed CA, certificate or key is reported
// here, at startup.
func (c Conn) Validate(key string) error {
	_, err := c.build(keyer(key))
	return err
}

// built is what a valid Conn turns into, whatever the client library.
type built struct {
	tls *tls.Config // nil: plaintext
}

func (c Conn) build(k keyer) (built, error) {
	var b built
	if len(c.Brokers) == 0 {
		return b, fmt.Errorf("%s: at least one broker is required, host:port (e.g. %s)", k.of("brokers"), exampleBroker)
	}
	for _, br := range c.Brokers {
		if err := checkBroker(br); err != nil {
			return b, fmt.Errorf("%s: %q is not host:port (e.g. %s): %s", k.of("brokers"), br, exampleBroker, err)
		}
	}
	t := c.TLS
	if !t.Enabled {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"ca_file", t.CAFile != ""}, {"cert_file", t.CertFile != ""}, {"key_file", t.KeyFile != ""},
			{"server_name", t.ServerName != ""}, {"insecure_skip_verify", t.InsecureSkipVerify},
		} {
			if f.set {
				return b, fmt.Errorf("%s is set but %s is false: set %s: true to connect with TLS, or remove %s",
					k.of("tls."+f.name), k.of("tls.enabled"), k.of("tls.enabled"), k.of("tls."+f.name))
			}
		}
	} else {
		cfg, err := t.config(k)
		if err != nil {
			return b, err
		}
		b.tls = cfg
	}
	mech, ok := c.SASL.mechanism()
	switch {
	case !ok:
		return b, fmt.Errorf("%s: %q is not supported: use %s (or leave it empty for no SASL)", k.of("sasl.mechanism"), c.SASL.Mechanism, mechanismsForHumans)
	case mech == "" && (c.SASL.Username != "" || c.SASL.Password != ""):
		return b, fmt.Errorf("%s: required when %s or %s is set: use %s", k.of("sasl.mechanism"), k.of("sasl.username"), k.of("sasl.password"), mechanismsForHumans)
	case mech == "":
	case c.SASL.Username == "":
		return b, fmt.Errorf("%s: required with mechanism %s", k.of("sasl.username"), mech)
	case c.SASL.Password == "":
		return b, fmt.Errorf("%s: required with mechanism %s (set it in the config file, $%s or --%s)", k.of("sasl.password"), mech, EnvSASLPassword, FlagSASLPasswordFile)
	case mech == MechanismPlain && !t.Enabled:
		return b, fmt.Errorf("%s: PLAIN sends the password unencrypted: set %s: true, or use %s", k.of("sasl.mechanism"), k.of("tls.enabled"), MechanismSCRAMSHA512)
	}
	return b, nil
}

func checkBroker(b string) error {
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("no host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q is not within 1..65535", port)
	}
	return nil
}

// config builds the tls.Config of an enabled TLS, reading its files.
func (t TLS) config(k keyer) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot read the CA file: %w (give the PEM file of the CA that signed the brokers' certificates)", k.of("tls.ca_file"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate (export the CA certificate as PEM, e.g. with keytool -exportcert -rfc)", k.of("tls.ca_file"), t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		return nil, fmt.Errorf("%s: required with %s (the client certificate's private key, PEM)", k.of("tls.key_file"), k.of("tls.cert_file"))
	case t.CertFile == "" && t.KeyFile != "":
		return nil, fmt.Errorf("%s: required with %s (the client certificate, PEM)", k.of("tls.cert_file"), k.of("tls.key_file"))
	case t.CertFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: cannot load the client certificate and key: %w", k.of("tls.cert_file"), k.of("tls.key_file"), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// TLSConfig returns the TLS configuration of the connections, nil when TLS is
// off. ServerName is left empty unless configured: clients fill in each
// broker's host.
func (c Conn) TLSConfig() (*tls.Config, error) {
	b, err := c.build(defaultKey)
	if err != nil {
		return nil, err
	}
	return b.tls, nil
}

// saslMechanism returns franz-go's mechanism, nil when SASL is off.
func (c Conn) saslMechanism() sasl.Mechanism {
	user, pass := c.SASL.Username, c.SASL.Password.Reveal()
	switch c.MechanismName() {
	case MechanismPlain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case MechanismSCRAMSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case MechanismSCRAMSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	return nil
}

// Opts returns the franz-go options that connect to c: kgo.SeedBrokers, and
// kgo.DialTLSConfig and kgo.SASL when configured. Errors name the keys under
// "kafka". Append the client's own options after these.
func (c Conn) Opts() ([]kgo.Opt, error) {
	b, err := c.build(defaultKey)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if b.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(b.tls))
	}
	if m := c.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// NewClient is kgo.NewClient(c.Opts()..., opts...).
func (c Conn) NewClient(opts ...kgo.Opt) (*kgo.Client, error) {
	base, err := c.Opts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka client for %v: %w", c.Brokers, err)
	}
	return cl, nil
}

// Describe is a one-line summary of how c connects, for logs and messages:
// brokers, TLS and the SASL mechanism and user. It never holds the password.
func (c Conn) Describe() string {
	var sb strings.Builder
	sb.WriteString(strings.Join(c.Brokers, ","))
	if c.TLS.Enabled {
		sb.WriteString(" over TLS")
		if c.TLS.InsecureSkipVerify {
			sb.WriteString(" (certificate not verified)")
		}
	}
	if m := c.MechanismName(); m != "" {
		fmt.Fprintf(&sb, " as SASL %s user %q", m, c.SASL.Username)
	}
	return sb.String()
}
