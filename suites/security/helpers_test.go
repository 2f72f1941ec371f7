package security_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// edmsdr runs the binary and waits for it; env entries are added to a clean environment.
func edmsdr(env []string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(bin, args...)
	cmd.Env = suitekit.CleanEnv(env...)
	return suitekit.Run(cmd, 3*time.Minute)
}

// output is everything a session printed.
func output(s *gexec.Session) string { return string(s.Out.Contents()) + string(s.Err.Contents()) }

// mustRun runs the binary and expects exit code 0.
func mustRun(env []string, args ...string) *gexec.Session {
	GinkgoHelper()
	s := edmsdr(env, args...)
	Expect(s.ExitCode()).To(Equal(0), "edmsdr %s:\n%s", strings.Join(args, " "), output(s))
	return s
}

// miniSchema is a small schema for specs that need no EDMS: a user table and a table referencing
// it, both with a natural key.
var miniSchema = []string{
	`CREATE TABLE auth_user (id serial PRIMARY KEY, username text NOT NULL UNIQUE)`,
	`CREATE TABLE note (id serial PRIMARY KEY, title text NOT NULL UNIQUE, author_id integer REFERENCES auth_user (id), body text)`,
}

// miniSource creates a database with miniSchema and a few rows, some of them shaped like SQL.
func miniSource(ctx context.Context) string {
	GinkgoHelper()
	u := srv.DSN(suitekit.NewDatabase(ctx, srv, "minisrc"))
	suitekit.Exec(ctx, u, miniSchema...)
	suitekit.Exec(ctx, u,
		`INSERT INTO auth_user (username) VALUES ('admin'), ('alice'), ('bob"; DROP TABLE auth_user; --')`,
		`INSERT INTO note (title, author_id, body) SELECT 'title of ' || username, id, 'note by ' || username || E' \'); DROP TABLE auth_user; --' FROM auth_user`)
	return u
}

// miniTarget creates a database with miniSchema holding only the seeded admin (under another id).
func miniTarget(ctx context.Context) string {
	GinkgoHelper()
	u := srv.DSN(suitekit.NewDatabase(ctx, srv, "minitgt"))
	suitekit.Exec(ctx, u, miniSchema...)
	suitekit.Exec(ctx, u, `SELECT setval('auth_user_id_seq', 100)`, `INSERT INTO auth_user (username) VALUES ('admin')`)
	return u
}

// digestOf returns the per-table digest lines of the database at u, as the CLI prints them.
func digestOf(u string) string {
	GinkgoHelper()
	return string(mustRun(nil, "digest", "--dsn", u).Out.Contents())
}

// rolePassword is the password newRole gives a role (servers that trust local connections
// ignore it; servers given by DSN may not).
func rolePassword(role string) string { return "pw-" + role }

// asRole returns u with its user replaced by role.
func asRole(u, role string) string {
	GinkgoHelper()
	p, err := url.Parse(u)
	Expect(err).NotTo(HaveOccurred())
	p.User = url.UserPassword(role, rolePassword(role))
	return p.String()
}

// hasPassword reports whether u carries a password (the server then checks passwords, and a
// made-up one would not connect).
func hasPassword(u string) bool {
	GinkgoHelper()
	p, err := url.Parse(u)
	Expect(err).NotTo(HaveOccurred())
	_, set := p.User.Password()
	return set
}

// withPassword returns u with password set.
func withPassword(u, password string) string {
	GinkgoHelper()
	p, err := url.Parse(u)
	Expect(err).NotTo(HaveOccurred())
	p.User = url.UserPassword(p.User.Username(), password)
	return p.String()
}

// databaseOf returns the database name of u.
func databaseOf(u string) string {
	GinkgoHelper()
	p, err := url.Parse(u)
	Expect(err).NotTo(HaveOccurred())
	return strings.TrimPrefix(p.Path, "/")
}

var roleCounter atomic.Int64

// newRole creates a login role without any privilege, unique on the server, dropped (with every
// grant it holds in the databases of dbs) when the spec ends.
func newRole(ctx context.Context, hint string, dbs ...string) string {
	GinkgoHelper()
	name := fmt.Sprintf("edmsdr_%s_%d_%d", hint, GinkgoParallelProcess(), roleCounter.Add(1))
	admin := srv.DSN("postgres")
	suitekit.Exec(ctx, admin, fmt.Sprintf(`DROP ROLE IF EXISTS %s`, name), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`, name, rolePassword(name)))
	DeferCleanup(func(ctx SpecContext) {
		for _, db := range dbs {
			suitekit.Exec(ctx, db, fmt.Sprintf(`DROP OWNED BY %s`, name))
		}
		suitekit.Exec(ctx, admin, fmt.Sprintf(`DROP ROLE %s`, name))
	}, NodeTimeout(time.Minute))
	return name
}

// rewritePackage copies the package at in to out with its header and manifest passed through
// editHeader and editManifest (either may be nil), rows unchanged, checksums recomputed; opts
// says how the copy is written (Wrap, Sign). Table renames in the header carry over to the
// entries and the manifest's table list.
func rewritePackage(in, out string, opts pack.WriterOptions, editHeader func(*pack.Header), editManifest func(*pack.Manifest)) {
	GinkgoHelper()
	f, err := os.Open(in)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	rd, err := pack.NewReader(f, pack.Limits{})
	Expect(err).NotTo(HaveOccurred())
	defer rd.Close()
	hdr := rd.Header()
	hdr.Tables = append([]pack.TableLayout(nil), hdr.Tables...)
	rows := map[int][]byte{}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		data, err := io.ReadAll(e)
		Expect(err).NotTo(HaveOccurred())
		rows[e.Layout.Index] = append(rows[e.Layout.Index], data...)
	}
	m := *rd.Manifest()
	if editHeader != nil {
		editHeader(&hdr)
	}
	if editManifest != nil {
		editManifest(&m)
	}
	opts.Overwrite = true
	w, err := pack.Create(out, opts)
	Expect(err).NotTo(HaveOccurred())
	Expect(w.WriteHeader(hdr)).To(Succeed())
	for _, lay := range hdr.Tables {
		ts := w.Table(lay.Index, lay.Table)
		_, err := ts.Write(rows[lay.Index])
		Expect(err).NotTo(HaveOccurred())
		_, err = ts.Close()
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(w.Close(&m)).To(Succeed())
}

// signatureOf returns the manifest.sig entry of the (unencrypted) package at path, nil if none.
func signatureOf(path string) []byte {
	GinkgoHelper()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	rd, err := pack.NewReader(f, pack.Limits{})
	Expect(err).NotTo(HaveOccurred())
	defer rd.Close()
	_, err = rd.Verify()
	Expect(err).NotTo(HaveOccurred())
	return rd.Signature()
}

// filesUnder returns the content of every regular file under dir.
func filesUnder(dir string) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	Expect(filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})).To(Succeed())
	return out
}
