package corruption_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/generators/edmsgen"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// source is this process's undamaged input: a package of a tiny EDMS and a Django fixture.
type source struct {
	seed    int64  // the data generator's seed
	pkg     []byte // the package
	digest  string // its manifest's digest: what an exact restore must end with
	fixture []byte // testdata/edms-fixture.json
}

// newSource fills an EDMS database from seed, backs it up and drops it.
func newSource(ctx context.Context, seed int64) source {
	GinkgoHelper()
	name := fmt.Sprintf("corruption_src_%d", GinkgoParallelProcess())
	Expect(srv.CreateDatabase(ctx, name)).To(Succeed())
	defer func() { Expect(srv.DropDatabase(context.WithoutCancel(ctx), name)).To(Succeed()) }()
	url := srv.DSN(name)
	Expect(edms.Install(ctx, url, edms.SeedOptions{})).To(Succeed())
	p, err := edmsgen.ProfileByName("tiny")
	Expect(err).NotTo(HaveOccurred())
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	_, err = edmsgen.Generate(ctx, conn, seed, p)
	Expect(conn.Close(ctx)).To(Succeed())
	Expect(err).NotTo(HaveOccurred(), "generate (seed %d)", seed)
	path, res := suitekit.Backup(ctx, url, nil)
	pkg, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	fixture, err := os.ReadFile("testdata/edms-fixture.json")
	Expect(err).NotTo(HaveOccurred())
	return source{seed: seed, pkg: pkg, digest: res.Manifest.Digest.Total, fixture: fixture}
}

// target is this process's restore target: a re-initialised EDMS, re-created from a template
// whenever a restore changed it.
type target struct {
	admin    string // DSN of the maintenance database, for CREATE/DROP DATABASE
	template string
	name     string
	url      string
	baseline state // the state of a fresh copy of the template
	dirty    bool  // the target may differ from the template
}

// state is what "the target exactly as it was" compares: the logical digest (every row of every
// table) and every sequence's position.
type state struct {
	Digest    string
	Sequences string
}

func newTarget(ctx context.Context) *target {
	GinkgoHelper()
	p := GinkgoParallelProcess()
	t := &target{admin: srv.DSN("postgres"), template: fmt.Sprintf("corruption_reinit_%d", p), name: fmt.Sprintf("corruption_tgt_%d", p)}
	t.url = srv.DSN(t.name)
	Expect(srv.CreateDatabase(ctx, t.template)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) error { return srv.DropDatabase(ctx, t.template) }, NodeTimeout(time.Minute))
	Expect(edms.Install(ctx, srv.DSN(t.template), edms.SeedOptions{Reinit: true})).To(Succeed())
	DeferCleanup(func(ctx SpecContext) error { return srv.DropDatabase(ctx, t.name) }, NodeTimeout(time.Minute))
	t.dirty = true
	t.reset(ctx)
	t.baseline = t.state(ctx)
	return t
}

// reset re-creates the target from the template if a restore may have changed it.
func (t *target) reset(ctx context.Context) {
	GinkgoHelper()
	if !t.dirty {
		return
	}
	conn, err := dsn.Connect(ctx, t.admin)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(context.WithoutCancel(ctx))
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + pgx.Identifier{t.name}.Sanitize() + " WITH (FORCE)",
		"CREATE DATABASE " + pgx.Identifier{t.name}.Sanitize() + " TEMPLATE " + pgx.Identifier{t.template}.Sanitize(),
	} {
		_, err := conn.Exec(ctx, sql)
		Expect(err).NotTo(HaveOccurred(), sql)
	}
	t.dirty = false
}

// state reads the target's state.
func (t *target) state(ctx context.Context) state {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, t.url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(context.WithoutCancel(ctx))
	db, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{})
	Expect(err).NotTo(HaveOccurred(), "digest of the target")
	var s state
	s.Digest = db.Summary.Total
	Expect(conn.QueryRow(ctx, `SELECT coalesce(string_agg(format('%s.%s=%s', schemaname, sequencename, coalesce(last_value::text, 'unused')), ',' ORDER BY schemaname, sequencename), '') FROM pg_sequences`).Scan(&s.Sequences)).To(Succeed())
	return s
}

// diff describes how s differs from was: the digest, and the sequences that moved.
func (s state) diff(was state) string {
	var out []string
	if s.Digest != was.Digest {
		out = append(out, fmt.Sprintf("digest %.16s… (was %.16s…)", s.Digest, was.Digest))
	}
	before := map[string]string{}
	for _, kv := range strings.Split(was.Sequences, ",") {
		k, v, _ := strings.Cut(kv, "=")
		before[k] = v
	}
	for _, kv := range strings.Split(s.Sequences, ",") {
		if k, v, _ := strings.Cut(kv, "="); before[k] != v {
			out = append(out, fmt.Sprintf("sequence %s at %s (was %s)", k, v, before[k]))
		}
	}
	return strings.Join(out, ", ")
}
