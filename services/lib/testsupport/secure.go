package testsupport

import (
	"os"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/kafkaconn"
	"github.com/liqstream/liqstream/services/lib/secret"
)

// Environment variables of the secured endpoints of the real servers
// (scripts/lib.sh exports them; scripts/kafka-start.sh and
// scripts/clickhouse-start.sh write the files they name).
const (
	EnvKafkaSASL                     = "LIQSTREAM_TEST_KAFKA_SASL_BROKERS"
	EnvKafkaSASLUser                 = "LIQSTREAM_TEST_KAFKA_SASL_USER"
	EnvKafkaSASLPasswordFile         = "LIQSTREAM_TEST_KAFKA_SASL_PASSWORD_FILE"
	EnvKafkaCAFile                   = "LIQSTREAM_TEST_KAFKA_CA_FILE"
	EnvClickHouseAnalystPasswordFile = "LIQSTREAM_TEST_CLICKHOUSE_ANALYST_PASSWORD_FILE"
)

// ClickHouseAnalystUser is the read-only user of the shipped ClickHouse
// configs.
const ClickHouseAnalystUser = "analyst"

const secureSkipHint = "run `make test`, or `source scripts/lib.sh` after scripts/kafka-start.sh and scripts/clickhouse-start.sh, which set %s"

// KafkaSASL returns a Conn to the real broker's SASL_SSL listener: TLS with
// the development CA, SCRAM-SHA-512 as the test user. It skips the test when
// the variables are unset and fails it when they name files that cannot be
// read.
func KafkaSASL(t testing.TB) kafkaconn.Conn {
	t.Helper()
	vars := []string{EnvKafkaSASL, EnvKafkaSASLUser, EnvKafkaSASLPasswordFile, EnvKafkaCAFile}
	for _, v := range vars {
		if os.Getenv(v) == "" {
			t.Skipf("integration test needs Kafka's SASL_SSL listener: "+secureSkipHint, strings.Join(vars, ", "))
		}
	}
	pw := readSecretFile(t, EnvKafkaSASLPasswordFile, "scripts/kafka-start.sh")
	ca := os.Getenv(EnvKafkaCAFile)
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("%s: %v (scripts/kafka-start.sh writes it)", EnvKafkaCAFile, err)
	}
	return kafkaconn.Conn{
		Brokers: strings.Split(os.Getenv(EnvKafkaSASL), ","),
		TLS:     kafkaconn.TLS{Enabled: true, CAFile: ca},
		SASL:    kafkaconn.SASL{Mechanism: kafkaconn.MechanismSCRAMSHA512, Username: os.Getenv(EnvKafkaSASLUser), Password: pw},
	}
}

// ClickHouseAnalyst returns the real ClickHouse server's native address and
// the read-only analyst's password, or skips the test when the variables are
// unset.
func ClickHouseAnalyst(t testing.TB) (addr string, password secret.String) {
	t.Helper()
	addr = ClickHouseAddr(t)
	if os.Getenv(EnvClickHouseAnalystPasswordFile) == "" {
		t.Skipf("integration test needs ClickHouse's analyst user: "+secureSkipHint, EnvClickHouseAnalystPasswordFile)
	}
	return addr, readSecretFile(t, EnvClickHouseAnalystPasswordFile, "scripts/clickhouse-start.sh")
}

func readSecretFile(t testing.TB, env, writer string) secret.String {
	t.Helper()
	pw, err := kafkaconn.ReadPasswordFile(os.Getenv(env))
	if err != nil {
		t.Fatalf("%s: %v (%s writes it)", env, err, writer)
	}
	return pw
}
