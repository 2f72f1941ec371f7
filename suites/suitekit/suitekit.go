package suitekit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // the suites' DSL
	. "github.com/onsi/gomega"    //nolint:revive // the suites' DSL

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/containerpg"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/label"
)

// StartServer starts (or connects to) the server the knobs name, for this Ginkgo process, and
// registers its shutdown. Call it from a BeforeSuite or SynchronizedBeforeSuite's all-process body.
func StartServer(ctx context.Context, spec string) provider.Server {
	GinkgoHelper()
	srv, err := provider.Open(ctx, spec, provider.Options{Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred(), "start PostgreSQL server %q", spec)
	DeferCleanup(func(ctx SpecContext) error { return srv.Close(ctx) }, NodeTimeout(2*time.Minute))
	return srv
}

var dbCounter atomic.Int64

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// NewDatabase creates an empty database on srv for the current spec, dropped when it ends.
func NewDatabase(ctx context.Context, srv provider.Server, hint string) string {
	GinkgoHelper()
	name := fmt.Sprintf("t%d_%d_%s", GinkgoParallelProcess(), dbCounter.Add(1), unsafeName.ReplaceAllString(strings.ToLower(hint), "_"))
	if len(name) > 60 {
		name = name[:60]
	}
	Expect(srv.CreateDatabase(ctx, name)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) error { return srv.DropDatabase(ctx, name) }, NodeTimeout(time.Minute))
	return name
}

// Connect opens a connection to dsn, closed when the spec ends.
func Connect(ctx context.Context, url string) *pgx.Conn {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) error { return conn.Close(ctx) })
	return conn
}

// Backup backs up dsn into a package in a spec-owned temporary directory and returns its path.
func Backup(ctx context.Context, url string, kf *keys.File) (string, *backup.Result) {
	GinkgoHelper()
	cfg, err := dsn.Config(url)
	Expect(err).NotTo(HaveOccurred())
	path := fmt.Sprintf("%s/backup.edmsdr", GinkgoT().TempDir())
	res, err := backup.Run(ctx, cfg, path, backup.Options{Keys: kf, Tool: "edmsdr suites"})
	Expect(err).NotTo(HaveOccurred(), "backup")
	return path, res
}

// with runs fn on a fresh connection to url, closed right after (so that the database can serve
// as a template or be dropped).
func with(ctx context.Context, url string, fn func(*pgx.Conn)) {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(context.WithoutCancel(ctx))
	fn(conn)
}

// Restore restores the package at path into dsn and returns the result and the error.
func Restore(ctx context.Context, url, path string, opts restore.Options) (res *restore.Result, err error) {
	GinkgoHelper()
	with(ctx, url, func(conn *pgx.Conn) {
		res, err = restoreWith(ctx, conn, path, opts)
	})
	return res, err
}

func restoreWith(ctx context.Context, conn *pgx.Conn, path string, opts restore.Options) (*restore.Result, error) {
	GinkgoHelper()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	return restore.Run(ctx, conn, f, opts)
}

// Digest computes the logical digest of dsn.
func Digest(ctx context.Context, url string) (sum pack.Digest) {
	GinkgoHelper()
	with(ctx, url, func(conn *pgx.Conn) {
		db, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{})
		Expect(err).NotTo(HaveOccurred(), "digest")
		sum = db.Summary
	})
	return sum
}

// Count returns the result of a count query on dsn.
func Count(ctx context.Context, url, sql string, args ...any) (n int64) {
	GinkgoHelper()
	with(ctx, url, func(conn *pgx.Conn) {
		Expect(conn.QueryRow(ctx, sql, args...).Scan(&n)).To(Succeed(), sql)
	})
	return n
}

// Exec runs statements on dsn.
func Exec(ctx context.Context, url string, sql ...string) {
	GinkgoHelper()
	with(ctx, url, func(conn *pgx.Conn) {
		for _, s := range sql {
			_, err := conn.Exec(ctx, s)
			Expect(err).NotTo(HaveOccurred(), s)
		}
	})
}

// Verify verifies a package offline.
func Verify(path string) (*pack.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return pack.Verify(f, pack.Limits{})
}

// TableResult finds a table's line in a restore result.
func TableResult(res *restore.Result, table string) restore.TableResult {
	GinkgoHelper()
	for _, t := range res.Tables {
		if t.Table == table {
			return t
		}
	}
	Fail("restore result has no table " + table)
	return restore.TableResult{}
}

// containerSkip is why container specs are skipped in this process ("" when they run).
var containerSkip string

// StartContainerIfSelected starts this process's container server when the label filter selects
// specs labelled container. When Docker does not answer or the image is missing, it records why
// and returns nil: SkipUnlessContainer then skips those specs with that reason (CI refuses such
// skips where Docker answers).
func StartContainerIfSelected(ctx context.Context) provider.Server {
	GinkgoHelper()
	if !Label(label.Container).MatchesLabelFilter(GinkgoLabelFilter()) {
		containerSkip = "specs labelled container are not selected"
		return nil
	}
	srv, err := provider.Open(ctx, "container", provider.Options{Log: GinkgoWriter})
	if errors.Is(err, containerpg.ErrDockerUnavailable) || errors.Is(err, containerpg.ErrImageMissing) {
		containerSkip = err.Error()
		return nil
	}
	Expect(err).NotTo(HaveOccurred(), "start container server")
	DeferCleanup(func(ctx SpecContext) error { return srv.Close(ctx) }, NodeTimeout(2*time.Minute))
	return srv
}

// SkipUnlessContainer skips a container spec when this process has no container server, saying why.
func SkipUnlessContainer(srv provider.Server) {
	if srv == nil {
		Skip("no container server: " + containerSkip)
	}
}

// StartContainer starts an extra container server from image for the current spec.
func StartContainer(ctx context.Context, image string) provider.Server {
	GinkgoHelper()
	srv, err := provider.Open(ctx, "container", provider.Options{Image: image, Log: GinkgoWriter})
	if errors.Is(err, containerpg.ErrDockerUnavailable) || errors.Is(err, containerpg.ErrImageMissing) {
		Skip("no container server: " + err.Error())
	}
	Expect(err).NotTo(HaveOccurred(), "start container server %s", image)
	DeferCleanup(func(ctx SpecContext) error { return srv.Close(ctx) }, NodeTimeout(2*time.Minute))
	return srv
}
