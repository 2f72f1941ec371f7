package dsn

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestRedact(t *testing.T) {
	cases := []struct {
		in, want string
		secrets  []string // must not survive
	}{
		{"postgres://alice:s3cret@db:5432/edms", "postgres://alice:xxxxx@db:5432/edms", []string{"s3cret"}},
		{"postgresql://alice:s3cret@db/edms?sslmode=disable", "postgresql://alice:xxxxx@db/edms?sslmode=disable", []string{"s3cret"}},
		{"connect postgres://alice:p%40ss%3Aw0rd@db/edms failed", "connect postgres://alice:xxxxx@db/edms failed", []string{"p%40ss", "w0rd"}},
		{"postgres://alice:p@ss:w@rd@db/edms", "postgres://alice:xxxxx@db/edms", []string{"p@ss", "w@rd", "ss:w"}},
		{"postgres://alice:pa$$!&*()=+word@db/edms", "postgres://alice:xxxxx@db/edms", []string{"pa$$", "word"}},
		{"postgres://:onlypass@db/edms", "postgres://:xxxxx@db/edms", []string{"onlypass"}},
		{"postgres://alice:s3cret@h1:5432,h2:5433/edms", "postgres://alice:xxxxx@h1:5432,h2:5433/edms", []string{"s3cret"}},
		{"postgres://al@ce:s3cret@db/edms", "postgres://al@ce:xxxxx@db/edms", []string{"s3cret"}},
		{"postgres://alice@db/edms", "postgres://alice@db/edms", nil},
		{"postgres://alice@db:5432/edms", "postgres://alice@db:5432/edms", nil},
		{"postgres://db:5432/edms and postgres://bob:pw9@db/x", "postgres://db:5432/edms and postgres://bob:xxxxx@db/x", []string{"pw9"}},
		{"postgres://db/edms", "postgres://db/edms", nil},
		{"a: postgres://u:one@h/d, b: postgres://v:two@k/e", "a: postgres://u:xxxxx@h/d, b: postgres://v:xxxxx@k/e", []string{"one", "two"}},
		{"host=db user=alice password=s3cret dbname=edms", "host=db user=alice password=xxxxx dbname=edms", []string{"s3cret"}},
		{"host=db password = s3cret dbname=edms", "host=db password = xxxxx dbname=edms", []string{"s3cret"}},
		{"host=db PASSWORD=s3cret", "host=db PASSWORD=xxxxx", []string{"s3cret"}},
		{"host=db password='with space' dbname=edms", "host=db password=xxxxx dbname=edms", []string{"with", "space"}},
		{`host=db password='it\'s \\ odd' dbname=edms`, "host=db password=xxxxx dbname=edms", []string{"it", "odd"}},
		{`host=db password=two\ words dbname=edms`, "host=db password=xxxxx dbname=edms", []string{"two", "words"}},
		{"host=db password=p@ss:w/rd?&x dbname=edms", "host=db password=xxxxx dbname=edms", []string{"p@ss", "w/rd"}},
		{"host=db password='' dbname=edms", "host=db password=xxxxx dbname=edms", nil},
		{"host=db sslpassword=keypass", "host=db sslpassword=xxxxx", []string{"keypass"}},
		{"postgres://db/edms?password=s3cret&sslmode=require", "postgres://db/edms?password=xxxxx", []string{"s3cret"}},
		{"password authentication failed for user \"alice\"", "password authentication failed for user \"alice\"", nil},
		{"no secrets here", "no secrets here", nil},
	}
	for _, c := range cases {
		got := Redact(c.in)
		if got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		for _, s := range c.secrets {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q still holds %q", c.in, got, s)
			}
		}
	}
}

func TestScrub(t *testing.T) {
	if Scrub(nil, "x") != nil {
		t.Error("Scrub(nil) must be nil")
	}
	// An error without secrets is returned as is.
	plain := errors.New("connection refused")
	if got := Scrub(plain, "postgres://u:pw@h/d"); got != plain {
		t.Errorf("Scrub changed an error without secrets: %v", got)
	}
	cases := []struct {
		name    string
		msg     string
		secrets []string
		leak    []string
	}{
		{"password of a URL", "server said: bad password s3cr#t for alice", []string{"postgres://alice:s3cr%23t@db/edms"}, []string{"s3cr#t"}},
		{"password of a keyword string", "server said: bad password 'my pass' for alice", []string{"host=db password='my pass'"}, []string{"my pass"}},
		{"quoted keyword password with escapes", `server said: it's bad`, []string{`host=db password='it\'s'`}, []string{"it's"}},
		{"unquoted keyword password with an escaped space", "server said: two words", []string{`password=two\ words`}, []string{"two words"}},
		{"literal secret", "token tok-123 rejected", []string{"tok-123"}, []string{"tok-123"}},
		{"DSN inside the message", "cannot connect to postgres://alice:pw1@db/edms", nil, []string{"pw1"}},
		{"keyword DSN inside the message", "cannot parse host=db password=pw2", nil, []string{"pw2"}},
		{"keyword string without a password is no secret", "host=db and user=alice", []string{"host=db user=alice"}, nil},
		{"empty secret", "nothing to hide", []string{""}, nil},
	}
	for _, c := range cases {
		base := fmt.Errorf("wrapped: %w", &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrPermission})
		err := fmt.Errorf("%s: %w", c.msg, base)
		got := Scrub(err, c.secrets...)
		for _, s := range c.leak {
			if strings.Contains(got.Error(), s) {
				t.Errorf("%s: %q leaks %q", c.name, got, s)
			}
		}
		if len(c.leak) > 0 && !strings.Contains(got.Error(), "xxxxx") {
			t.Errorf("%s: %q has no redaction mark", c.name, got)
		}
		if !errors.Is(got, fs.ErrPermission) {
			t.Errorf("%s: errors.Is lost the cause", c.name)
		}
		var pe *fs.PathError
		if !errors.As(got, &pe) || pe.Path != "/x" {
			t.Errorf("%s: errors.As lost the cause", c.name)
		}
		if !errors.Is(got, base) {
			t.Errorf("%s: errors.Is lost the wrapped error", c.name)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, k := range []string{"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGAPPNAME", "PGOPTIONS", "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE", "PGSSLMODE", "PGTZ", "PGDATESTYLE"} {
		t.Setenv(k, "")
	}
	t.Setenv("PGPASSFILE", "/nonexistent")
	cfg, err := Config("postgres://alice:pw@db.example:6543/edms?TimeZone=Europe/Paris&DateStyle=German")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "db.example" || cfg.Port != 6543 || cfg.User != "alice" || cfg.Database != "edms" || cfg.Password != "pw" {
		t.Errorf("parsed %s", Describe(cfg))
	}
	// The engine's settings win over the DSN's, so every value prints the same.
	for k, v := range RuntimeParams {
		if got := cfg.RuntimeParams[k]; got != v {
			t.Errorf("runtime param %s = %q, want %q", k, got, v)
		}
	}
	if cfg.DefaultQueryExecMode != pgx.QueryExecModeExec {
		t.Errorf("exec mode %v", cfg.DefaultQueryExecMode)
	}
	if d := Describe(cfg); d != "alice@db.example:6543/edms" || strings.Contains(d, "pw") {
		t.Errorf("Describe = %q", d)
	}

	// A user-given application_name is kept, in either DSN form or from the environment.
	for _, dsn := range []string{
		"postgres://alice@db/edms?application_name=nightly-drill",
		"host=db user=alice dbname=edms application_name=nightly-drill",
	} {
		cfg, err := Config(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.RuntimeParams["application_name"]; got != "nightly-drill" {
			t.Errorf("%s: application_name = %q", dsn, got)
		}
		if cfg.RuntimeParams["TimeZone"] != "UTC" {
			t.Errorf("%s: TimeZone = %q", dsn, cfg.RuntimeParams["TimeZone"])
		}
	}
	t.Setenv("PGAPPNAME", "from-env")
	if cfg, err := Config("host=db"); err != nil || cfg.RuntimeParams["application_name"] != "from-env" {
		t.Errorf("PGAPPNAME: %v, %v", cfg.RuntimeParams["application_name"], err)
	}
	t.Setenv("PGAPPNAME", "")

	// RuntimeParams itself is not changed by Config.
	if RuntimeParams["application_name"] != "edmsdr" {
		t.Errorf("RuntimeParams changed: %v", RuntimeParams)
	}

	// The environment fills the gaps, as psql does.
	t.Setenv("PGHOST", "envhost")
	t.Setenv("PGPORT", "7654")
	t.Setenv("PGUSER", "envuser")
	t.Setenv("PGDATABASE", "envdb")
	cfg, err = Config("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "envhost" || cfg.Port != 7654 || cfg.User != "envuser" || cfg.Database != "envdb" {
		t.Errorf("from the environment: %s", Describe(cfg))
	}
	if cfg.RuntimeParams["application_name"] != "edmsdr" {
		t.Errorf("default application_name = %q", cfg.RuntimeParams["application_name"])
	}
}

func TestConfigErrorHidesPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://alice:hunter2@db:notaport/edms",
		"host=db port=notaport password=hunter2",
		"host=db password='hunter2 two' port=x",
	} {
		_, err := Config(dsn)
		if err == nil {
			t.Errorf("%s: parsed", dsn)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error leaks the password: %v", dsn, err)
		}
		if IsConnectError(err) {
			t.Errorf("%s: a parse error is not a connect error", dsn)
		}
	}
}

func TestIsConnectError(t *testing.T) {
	if IsConnectError(errors.New("x")) || IsConnectError(nil) {
		t.Error("plain errors are not connect errors")
	}
}
