// Package dsn turns a connection string (a postgres:// URL or a keyword/value string, with the
// usual PG* environment variables filling the gaps, as psql does) into a connection configured the
// way the engine needs (session settings, dead-peer bounds on TCP), and keeps passwords out of
// everything people see.
package dsn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RuntimeParams are sent at connection start so that every value prints the same on every server.
var RuntimeParams = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"application_name":   "edmsdr",
}

// Config parses dsn ("" means: from PG* environment variables only).
func Config(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", Scrub(err, dsn))
	}
	for k, v := range RuntimeParams {
		if _, set := cfg.RuntimeParams[k]; !set || k != "application_name" {
			cfg.RuntimeParams[k] = v
		}
	}
	// Statements are generated per table and temporary tables come and go: do not cache plans.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	// A vanished server or network ends the connection within minutes (see UserTimeout).
	cfg.DialFunc = dialer(cfg.ConnectTimeout)
	return cfg, nil
}

// Connect opens one connection.
func Connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := Config(dsn)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Describe(cfg), Scrub(err, dsn, cfg.Password))
	}
	return conn, nil
}

// Describe names a server for messages: user@host:port/database, never the password.
func Describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// urlPassword matches the password of a URL up to the last '@' of its authority, as net/url
// splits it (a password may hold a raw '@', a user name too).
var urlPassword = regexp.MustCompile(`(postgres(?:ql)?://[^:/\s]*:)[^/\s]*@`)

// kvPassword matches a keyword password, quoted or not; a backslash escapes the next character
// (a space, a quote) in both forms, as libpq reads them.
var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|(?:[^\s\\]|\\.)+)`)

// Redact returns s with passwords in URLs and keyword strings replaced by "xxxxx".
func Redact(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}xxxxx@")
	return kvPassword.ReplaceAllString(s, "${1}xxxxx")
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// Scrub returns err with every secret (a DSN's password, or literal secrets given) removed from
// its message; errors.Is/As still see the original.
func Scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := Redact(err.Error())
	for _, s := range secrets {
		for _, p := range passwordsIn(s) {
			if p != "" {
				msg = strings.ReplaceAll(msg, p, "xxxxx")
			}
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

// passwordsIn extracts the password of a DSN; a string that is not a DSN is itself the secret.
func passwordsIn(s string) []string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			p, _ := u.User.Password()
			return []string{p}
		}
		return nil
	}
	if m := kvPassword.FindStringSubmatch(s); m != nil {
		return []string{unescape(strings.TrimSuffix(strings.TrimPrefix(m[2], "'"), "'"))}
	}
	if strings.Contains(s, "=") {
		return nil
	}
	return []string{s}
}

// IsConnectError reports whether err came from failing to reach or log into the server.
func IsConnectError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// unescape drops the backslash before every escaped character of a keyword value.
func unescape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
