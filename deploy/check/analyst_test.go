package check

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// analystUsers is the part of a ClickHouse users file the analyst needs.
type analystUsers struct {
	XMLName  xml.Name `xml:"clickhouse"`
	Profiles []struct {
		XMLName  xml.Name
		Readonly string `xml:"readonly"`
	} `xml:"profiles>analyst"`
	User struct {
		Password struct {
			FromEnv string `xml:"from_env,attr"`
			Value   string `xml:",chardata"`
		} `xml:"password"`
		PasswordSHA256 string `xml:"password_sha256_hex"`
		Profile        string `xml:"profile"`
		Quota          string `xml:"quota"`
	} `xml:"users>analyst"`
}

// TestClickHouseAnalyst checks the read-only analyst user of the current
// LTS: its users.d file (profile readonly = 1, password from the environment,
// none written in the file) and its mount and variable in the compose stack.
// The 18.16 counterpart (scripts/clickhouse-start.sh) is tested against the
// real server by services/aggregator/query's TestAnalystReadOnly.
func TestClickHouseAnalyst(t *testing.T) {
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "clickhouse", "users.d", "analyst.xml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var u analystUsers
	if err := xml.Unmarshal(b, &u); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(u.Profiles) != 1 || u.Profiles[0].Readonly != "1" {
		t.Errorf("%s: profile analyst must set readonly 1, got %+v", file, u.Profiles)
	}
	if u.User.Profile != "analyst" || u.User.Quota == "" {
		t.Errorf("%s: user analyst must use profile analyst and a quota, got profile %q quota %q", file, u.User.Profile, u.User.Quota)
	}
	if u.User.Password.FromEnv != "CLICKHOUSE_ANALYST_PASSWORD" || u.User.Password.Value != "" || u.User.PasswordSHA256 != "" {
		t.Errorf("%s: the analyst's password must come from_env CLICKHOUSE_ANALYST_PASSWORD, with none in the file", file)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cb, err := os.ReadFile(filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadCompose(ctx, dir, "docker-compose.yml", cb)
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := p.Services["clickhouse"]
	if !ok {
		t.Fatal("docker-compose.yml: no clickhouse service")
	}
	mounted := false
	for _, v := range ch.Volumes {
		if v.Target == "/etc/clickhouse-server/users.d/analyst.xml" && v.Source == file && v.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("docker-compose.yml: service clickhouse does not mount %s read-only on /etc/clickhouse-server/users.d/analyst.xml", file)
	}
	if v, ok := ch.Environment["CLICKHOUSE_ANALYST_PASSWORD"]; !ok || v == nil || *v == "" {
		t.Error("docker-compose.yml: service clickhouse does not set CLICKHOUSE_ANALYST_PASSWORD (an empty one would leave the analyst without a password)")
	}
}
