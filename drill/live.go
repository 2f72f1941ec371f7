package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/reports"
)

// runLive drills a live database: back it up through SourceDSN (one read-only snapshot),
// re-initialise a scratch database on Target with Reinit, restore, and compare with the package's
// digest, which the backup computed from the snapshot it read. The source's data is never written
// to: the backup reads in a read-only transaction; its role needs SELECT on the tables and
// TEMPORARY on the database (the backup's session-private scratch tables), nothing else.
func runLive(ctx context.Context, cfg Config) (*reports.Drill, error) {
	if cfg.Target == nil {
		return nil, errors.New("drill: a live source needs a scratch server to restore into (--db)")
	}
	if cfg.Reinit == nil {
		return nil, errors.New("drill: a live source needs a way to re-initialise the scratch database (--reinit-sql FILE or --reinit-cmd CMD)")
	}
	if err := CheckScratch(cfg.SourceDSN, cfg.Target.DSN(cfg.Database)); err != nil {
		return nil, err
	}
	srcCfg, err := dsn.Config(cfg.SourceDSN)
	if err != nil {
		return nil, fmt.Errorf("drill: source: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &runner{cfg: cfg, log: log, target: cfg.Target}
	r.last = time.Now()
	r.cycle = &reports.Scenario{Name: "cycle"}
	r.rep = &reports.Drill{
		Tool: cfg.Tool, Dataset: cmpOr(cfg.Dataset.Name, "live"), Provider: cfg.Target.Kind(), Scale: "live", StartedAt: time.Now().UTC(),
		TargetVersion: cfg.Target.Version(), Replay: cfg.Replay,
	}
	return r.finish(r.runLive(ctx, srcCfg)), nil
}

func (r *runner) runLive(ctx context.Context, srcCfg *pgx.ConnConfig) error {
	work, cleanup, err := r.workDir()
	if err != nil {
		return err
	}
	defer cleanup()
	pkgPath, bres, err := r.backup(ctx, srcCfg, work)
	if err != nil {
		return err
	}
	r.rep.SourceVersion = bres.Manifest.ServerVersion / 10000
	r.rep.DigestBefore = bres.Manifest.Digest.Total
	db := r.cfg.Database
	reinit := func(ctx context.Context) error {
		if err := r.target.DropDatabase(ctx, db); err != nil {
			return fmt.Errorf("drill: %w", err)
		}
		if err := r.target.CreateDatabase(ctx, db); err != nil {
			return fmt.Errorf("drill: %w", err)
		}
		if err := r.cfg.Reinit(ctx, r.target.DSN(db)); err != nil {
			return fmt.Errorf("drill: reinit: %w", err)
		}
		return nil
	}
	err = r.restoreAndCompare(ctx, work, pkgPath, reinit, bres.Manifest.Digest, nil)
	r.scenarios(ctx, pkgPath, reinit)
	return err
}

// CheckScratch refuses a scratch database that is the source database (same host, port and
// database name): the drill drops and re-creates its scratch database.
func CheckScratch(source, scratch string) error {
	src, err := dsn.Config(source)
	if err != nil {
		return fmt.Errorf("drill: source: %w", err)
	}
	scr, err := dsn.Config(scratch)
	if err != nil {
		return fmt.Errorf("drill: scratch: %w", err)
	}
	if src.Host == scr.Host && src.Port == scr.Port && src.Database == scr.Database {
		return fmt.Errorf("drill: the scratch database %s is the source database: the drill drops and re-creates its scratch database; give --database another name or --db another server", dsn.Describe(scr))
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ReinitSQL returns a reinit that runs the SQL script in path against the scratch database, in
// one implicit transaction per statement batch (the simple query protocol, as psql -c would).
func ReinitSQL(path string) (func(ctx context.Context, dsn string) error, error) {
	script, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--reinit-sql: %w", err)
	}
	return func(ctx context.Context, target string) error {
		conn, err := dsn.Connect(ctx, target)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.PgConn().Exec(ctx, string(script)).ReadAll(); err != nil {
			return fmt.Errorf("--reinit-sql %s: %w", path, err)
		}
		return nil
	}, nil
}

// ReinitCmd returns a reinit that runs command with sh -c, its output to out, given the scratch
// database in its environment: EDMSDR_SCRATCH_DSN and DATABASE_URL (the DSN), and PGHOST, PGPORT,
// PGUSER, PGPASSWORD, PGDATABASE (for psql, Django settings and the like). It must exit 0.
func ReinitCmd(command string, out io.Writer) func(ctx context.Context, dsn string) error {
	return func(ctx context.Context, target string) error {
		cfg, err := dsn.Config(target)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Env = append(os.Environ(), "EDMSDR_SCRATCH_DSN="+target, "DATABASE_URL="+target,
			"PGHOST="+cfg.Host, "PGPORT="+strconv.Itoa(int(cfg.Port)), "PGUSER="+cfg.User, "PGPASSWORD="+cfg.Password, "PGDATABASE="+cfg.Database)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.WaitDelay = 10 * time.Second
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("--reinit-cmd %q: %w", command, err)
		}
		return nil
	}
}
