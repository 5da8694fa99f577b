package kafkaconn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"gopkg.in/yaml.v3"

	"github.com/liqstream/liqstream/services/lib/secret"
)

// pemFiles writes a self-signed CA certificate, and a client certificate it
// signed with that key, as PEM files in dir.
type pemFiles struct{ ca, cert, key, garbage string }

func writePEMFiles(t *testing.T) pemFiles {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafkaconn test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := pemFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "client.pem"), key: filepath.Join(dir, "client.key"),
		garbage: filepath.Join(dir, "garbage.pem")}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for path, b := range map[string][]byte{
		f.ca:      certPEM,
		f.cert:    certPEM, // the CA's own key pair serves as a client certificate
		f.key:     pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		f.garbage: []byte("not a certificate\n"),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestValidate(t *testing.T) {
	f := writePEMFiles(t)
	base := Conn{Brokers: []string{"127.0.0.1:9092"}}
	scram := func(c *Conn) {
		c.SASL = SASL{Mechanism: MechanismSCRAMSHA512, Username: "liqstream", Password: "p4ssw0rd-SECRET"}
	}
	tests := []struct {
		name string
		mod  func(c *Conn)
		want string // "" = valid; else a substring of the error
	}{
		{"plaintext", func(*Conn) {}, ""},
		{"no brokers", func(c *Conn) { c.Brokers = nil }, "kafka.brokers: at least one broker is required"},
		{"empty broker", func(c *Conn) { c.Brokers = []string{""} }, `kafka.brokers: "" is not host:port`},
		{"no port", func(c *Conn) { c.Brokers = []string{"kafka-1"} }, `kafka.brokers: "kafka-1" is not host:port`},
		{"bad port", func(c *Conn) { c.Brokers = []string{"kafka-1:0"} }, "not within 1..65535"},
		{"named port", func(c *Conn) { c.Brokers = []string{"kafka-1:kafka"} }, "not within 1..65535"},
		{"no host", func(c *Conn) { c.Brokers = []string{":9092"} }, "no host"},
		{"ipv6", func(c *Conn) { c.Brokers = []string{"[::1]:9092", "kafka-2.example:9094"} }, ""},
		{"tls system roots", func(c *Conn) { c.TLS.Enabled = true }, ""},
		{"tls with CA", func(c *Conn) { c.TLS = TLS{Enabled: true, CAFile: f.ca, ServerName: "kafka.example"} }, ""},
		{"tls client certificate", func(c *Conn) { c.TLS = TLS{Enabled: true, CAFile: f.ca, CertFile: f.cert, KeyFile: f.key} }, ""},
		{"CA without tls", func(c *Conn) { c.TLS.CAFile = f.ca }, "kafka.tls.ca_file is set but kafka.tls.enabled is false"},
		{"insecure without tls", func(c *Conn) { c.TLS.InsecureSkipVerify = true }, "kafka.tls.insecure_skip_verify is set but kafka.tls.enabled is false"},
		{"unreadable CA", func(c *Conn) { c.TLS = TLS{Enabled: true, CAFile: f.ca + ".missing"} }, "kafka.tls.ca_file: cannot read the CA file"},
		{"CA not PEM", func(c *Conn) { c.TLS = TLS{Enabled: true, CAFile: f.garbage} }, "kafka.tls.ca_file: " + f.garbage + " holds no PEM certificate"},
		{"cert without key", func(c *Conn) { c.TLS = TLS{Enabled: true, CertFile: f.cert} }, "kafka.tls.key_file: required with kafka.tls.cert_file"},
		{"key without cert", func(c *Conn) { c.TLS = TLS{Enabled: true, KeyFile: f.key} }, "kafka.tls.cert_file: required with kafka.tls.key_file"},
		{"key not PEM", func(c *Conn) { c.TLS = TLS{Enabled: true, CertFile: f.cert, KeyFile: f.garbage} }, "cannot load the client certificate and key"},
		{"scram-sha-512", scram, ""},
		{"scram lower case", func(c *Conn) { scram(c); c.SASL.Mechanism = "scram-sha-256" }, ""},
		{"plain over tls", func(c *Conn) { scram(c); c.SASL.Mechanism = "PLAIN"; c.TLS.Enabled = true }, ""},
		{"plain without tls", func(c *Conn) { scram(c); c.SASL.Mechanism = "PLAIN" }, "kafka.sasl.mechanism: PLAIN sends the password unencrypted"},
		{"unknown mechanism", func(c *Conn) { scram(c); c.SASL.Mechanism = "GSSAPI" }, `kafka.sasl.mechanism: "GSSAPI" is not supported`},
		{"password without mechanism", func(c *Conn) { scram(c); c.SASL.Mechanism = "" }, "kafka.sasl.mechanism: required when"},
		{"no username", func(c *Conn) { scram(c); c.SASL.Username = "" }, "kafka.sasl.username: required with mechanism SCRAM-SHA-512"},
		{"no password", func(c *Conn) { scram(c); c.SASL.Password = "" }, "kafka.sasl.password: required with mechanism SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Brokers = append([]string(nil), base.Brokers...)
			tt.mod(&c)
			err := c.Validate("kafka")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				opts, err := c.Opts()
				if err != nil {
					t.Fatalf("Opts of a valid Conn: %v", err)
				}
				want := 1
				if c.TLS.Enabled {
					want++
				}
				if c.SASL.Mechanism != "" {
					want++
				}
				if len(opts) != want {
					t.Fatalf("Opts returned %d options, want %d", len(opts), want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error shows the password: %v", err)
			}
			if _, oerr := c.Opts(); oerr == nil {
				t.Fatalf("Opts accepted what Validate refused (%v)", err)
			}
		})
	}
}

func TestValidateKeyPrefix(t *testing.T) {
	for _, tt := range []struct{ key, want string }{
		{"kafka", "kafka.sasl.username:"},
		{"", "sasl.username:"},
		{"sink.kafka", "sink.kafka.sasl.username:"},
	} {
		err := Conn{Brokers: []string{"k:9092"}, SASL: SASL{Mechanism: "SCRAM-SHA-256", Password: "x"}}.Validate(tt.key)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate(%q) = %v, want prefix %q", tt.key, err, tt.want)
		}
	}
}

func TestTLSConfig(t *testing.T) {
	f := writePEMFiles(t)
	cfg, err := Conn{Brokers: []string{"k:9092"}}.TLSConfig()
	if err != nil || cfg != nil {
		t.Fatalf("TLS off: %v, %v; want nil, nil", cfg, err)
	}
	cfg, err = Conn{Brokers: []string{"k:9092"}, TLS: TLS{Enabled: true, CAFile: f.ca, CertFile: f.cert, KeyFile: f.key, ServerName: "kafka.example"}}.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "kafka.example" || cfg.InsecureSkipVerify || cfg.MinVersion == 0 {
		t.Fatalf("TLS config = %+v", cfg)
	}
}

func TestFlags(t *testing.T) {
	f := writePEMFiles(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file-SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileConn := Conn{Brokers: []string{"k:9092"}, SASL: SASL{Mechanism: "SCRAM-SHA-256", Username: "file-user", Password: "from-config-SECRET"}}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Conn
		wantErr string
	}{
		{"nothing given keeps the file's", nil, nil, fileConn, ""},
		{"ca file implies tls", []string{"--kafka-tls-ca-file", f.ca}, nil,
			Conn{Brokers: fileConn.Brokers, TLS: TLS{Enabled: true, CAFile: f.ca}, SASL: fileConn.SASL}, ""},
		{"explicit tls=false wins", []string{"--kafka-tls=false", "--kafka-tls-server-name", "x"}, nil,
			Conn{Brokers: fileConn.Brokers, TLS: TLS{ServerName: "x"}, SASL: fileConn.SASL}, ""},
		{"sasl flags and env password", []string{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "u"},
			map[string]string{EnvSASLPassword: "from-env-SECRET"},
			Conn{Brokers: fileConn.Brokers, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u", Password: "from-env-SECRET"}}, ""},
		{"password file over env", []string{"--kafka-sasl-password-file", pwFile}, map[string]string{EnvSASLPassword: "from-env-SECRET"},
			Conn{Brokers: fileConn.Brokers, SASL: SASL{Mechanism: "SCRAM-SHA-256", Username: "file-user", Password: "from-file-SECRET"}}, ""},
		{"missing password file", []string{"--kafka-sasl-password-file", pwFile + ".missing"}, nil, Conn{}, "--kafka-sasl-password-file: cannot read the password file"},
		{"insecure implies tls", []string{"--kafka-tls-insecure-skip-verify"}, nil,
			Conn{Brokers: fileConn.Brokers, TLS: TLS{Enabled: true, InsecureSkipVerify: true}, SASL: fileConn.SASL}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			kf := AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			c := fileConn
			err := kf.Apply(&c, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "SECRET") {
					t.Fatalf("Apply = %v, want an error containing %q and no password", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(c.Brokers, c.TLS, c.SASL.Mechanism, c.SASL.Username, c.SASL.Password.Reveal()) !=
				fmt.Sprint(tt.want.Brokers, tt.want.TLS, tt.want.SASL.Mechanism, tt.want.SASL.Username, tt.want.SASL.Password.Reveal()) {
				t.Fatalf("Apply gave %+v (password %q), want %+v (password %q)", c, c.SASL.Password.Reveal(), tt.want, tt.want.SASL.Password.Reveal())
			}
		})
	}
}

// TestSecretNeverShows loads a Conn with a password from YAML, as services
// do, and looks for the password in everything that may reach a log, an error
// or a dumped config.
func TestSecretNeverShows(t *testing.T) {
	const pw = "Sup3r-S3cret-Kafka-PW"
	f := writePEMFiles(t)
	var cfg struct {
		Kafka Conn `yaml:"kafka"`
	}
	doc := fmt.Sprintf("kafka:\n  brokers: [127.0.0.1:19094]\n  tls:\n    enabled: true\n    ca_file: %s\n"+
		"  sasl:\n    mechanism: SCRAM-SHA-512\n    username: liqstream\n    password: %s\n", f.ca, pw)
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Kafka
	if c.SASL.Password.Reveal() != pw || !c.TLS.Enabled || c.SASL.Mechanism != "SCRAM-SHA-512" {
		t.Fatalf("YAML did not load fully: %+v", c)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("kafka config", "kafka", c, "sasl", c.SASL, "password", c.SASL.Password, "conn", c.Describe())
	log.Error("failed", "err", c.Explain(fmt.Errorf("SASL handshake: %w", kerr.SaslAuthenticationFailed)))
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := c
	bad.SASL.Mechanism = "GSSAPI"
	nouser := c
	nouser.SASL.Username = ""
	out := strings.Join([]string{
		buf.String(), string(j), string(y),
		fmt.Sprintf("%v %+v %#v %s", c, c, c, c.SASL.Password),
		fmt.Sprint(bad.Validate("kafka")), fmt.Sprint(nouser.Validate("kafka")),
	}, "\n")
	if strings.Contains(out, pw) {
		t.Fatalf("the password shows:\n%s", out)
	}
	if !strings.Contains(buf.String(), secret.Redacted) || !strings.Contains(buf.String(), `"Username":"liqstream"`) {
		t.Fatalf("the log lost what it may show:\n%s", buf.String())
	}
}

func TestExplain(t *testing.T) {
	c := Conn{Brokers: []string{"127.0.0.1:19094"}, TLS: TLS{Enabled: true},
		SASL: SASL{Mechanism: MechanismSCRAMSHA512, Username: "liqstream", Password: "pw-SECRET"}}
	tests := []struct {
		name string
		err  error
		want string // "" = unchanged
	}{
		{"nil", nil, ""},
		{"other", errors.New("unknown topic"), ""},
		{"franz-go auth", fmt.Errorf("sasl: %w", kerr.SaslAuthenticationFailed), `refused the SCRAM-SHA-512 credentials of user "liqstream"`},
		{"kafka-go auth", errors.New("[58] SASL Authentication Failed: SASL Authentication failed"), "refused the SCRAM-SHA-512 credentials"},
		{"mechanism", kerr.UnsupportedSaslMechanism, "does not enable SASL mechanism SCRAM-SHA-512"},
		{"unknown CA", x509.UnknownAuthorityError{}, "kafka.tls.ca_file"},
		{"hostname", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "kafka"}, "kafka.tls.server_name"},
		{"closed", io.EOF, "closed the connection (this client: TLS on, SASL SCRAM-SHA-512)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Explain(tt.err)
			if tt.want == "" {
				if got != tt.err {
					t.Fatalf("Explain(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			var ce *ConnError
			if !errors.As(got, &ce) || !errors.Is(got, tt.err) || !strings.Contains(got.Error(), tt.want) {
				t.Fatalf("Explain(%v) = %v, want a *ConnError wrapping it and containing %q", tt.err, got, tt.want)
			}
			if ce.Permanent != (tt.name != "closed") || IsPermanent(got) != ce.Permanent {
				t.Fatalf("Permanent = %v for %v", ce.Permanent, tt.err)
			}
			if c.Explain(got) != got {
				t.Fatal("explaining twice wrapped again")
			}
			if strings.Contains(got.Error(), "SECRET") {
				t.Fatalf("the password shows: %v", got)
			}
		})
	}
}
