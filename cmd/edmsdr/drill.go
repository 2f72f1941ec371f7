package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/fixtures/provider"
)

func newDrillCmd(g *globals) *cobra.Command {
	var (
		db, scale, dataset, reportDir, database string
		seed                                    int64
		keep                                    bool
		srcVersion, tgtVersion                  int
		image                                   string
	)
	cmd := &cobra.Command{
		Use:   "drill [--db auto|local|container|DSN] [--scale N] [--report DIR]",
		Short: "Run a disaster-recovery drill: generate, back up, re-initialise, restore, validate",
		Long: `Run a full disaster-recovery drill on a throwaway server: install the dataset's schema and
seeders, generate synthetic data (deterministic by --seed), back it up, re-initialise the database
as a fresh install would (different ids, moved sequences), restore, then prove that every row came
back: the logical digest after equals the digest before, counts, references, sequences, keyless row
order, and the dataset's own invariants. Prints a summary table and exits 0 only on PASS.

--db auto      a throwaway local cluster when PostgreSQL server binaries are installed, else a container
--db local     a throwaway local cluster (initdb + postgres in a temp dir, as user postgres when root)
--db container a container (image from EDMSDR_PG_IMAGE; build the default with 'make images')
--db DSN       an existing server; the drill creates and drops its own database (--database)
--scale        tiny (every commit), small, medium, or a number (EDMS: documents; ledger: members)

--source-version 15 --target-version 17 (with --db container) backs up from a PostgreSQL 15
container and restores into a brand-new PostgreSQL 17 one (images from 'make images').`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds, err := drill.LookupDataset(dataset)
			if err != nil {
				return usageError{err}
			}
			if (srcVersion != 0 || tgtVersion != 0 || image != "") && db != "container" {
				return usagef("--image, --source-version and --target-version need --db container")
			}
			if image != "" && srcVersion != 0 {
				return usagef("give --image or --source-version, not both")
			}
			ctx := cmd.Context()
			closeServer := func(s provider.Server) {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if s.Kind() == "dsn" {
					_ = s.DropDatabase(cctx, database)
				}
				_ = s.Close(cctx)
			}
			srcOpts := provider.Options{Image: image}
			if srcVersion != 0 {
				srcOpts.Image = provider.ImageForVersion(srcVersion)
			}
			srv, err := provider.Open(ctx, db, srcOpts)
			if err != nil {
				return fmt.Errorf("drill: %w", err)
			}
			defer closeServer(srv)
			var target provider.Server
			if tgtVersion != 0 && tgtVersion != srcVersion {
				target, err = provider.Open(ctx, db, provider.Options{Image: provider.ImageForVersion(tgtVersion)})
				if err != nil {
					return fmt.Errorf("drill: target server: %w", err)
				}
				defer closeServer(target)
			}
			work := ""
			if keep && reportDir != "" {
				work = reportDir
			}
			rep, err := drill.Run(ctx, drill.Config{
				Source: srv, Target: target, Dataset: ds, Database: database, Seed: seed, Scale: scale,
				WorkDir: work, Tool: "edmsdr " + version, Log: g.log,
			})
			if err != nil {
				return err
			}
			if err := rep.WriteText(g.stdout); err != nil {
				return err
			}
			if reportDir != "" {
				f, err := createAtomic(filepath.Join(reportDir, "report.json"))
				if err != nil {
					return err
				}
				defer f.abort()
				if err := rep.WriteJSON(f); err != nil {
					return err
				}
				if err := f.commit(); err != nil {
					return err
				}
				md, err := createAtomic(filepath.Join(reportDir, "report.md"))
				if err != nil {
					return err
				}
				defer md.abort()
				if err := rep.WriteMarkdown(md); err != nil {
					return err
				}
				if err := md.commit(); err != nil {
					return err
				}
			}
			if rep.Verdict != finding.Pass {
				return fmt.Errorf("drill verdict %s", rep.Verdict)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "auto", "server: auto, local, container, or a DSN")
	cmd.Flags().StringVar(&scale, "scale", "tiny", "data size: tiny, small, medium or a number")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the generated data (a failing drill prints its replay command)")
	cmd.Flags().StringVar(&dataset, "dataset", "edms", "dataset: edms or ledger")
	cmd.Flags().StringVar(&reportDir, "report", ".", "directory for report.json and report.md ('' writes none)")
	cmd.Flags().StringVar(&image, "image", "", "with --db container: the image to run (default $EDMSDR_PG_IMAGE, else edmsdr/postgres:15); any image following the official postgres image's contract, e.g. postgres:16-alpine where a registry is reachable")
	cmd.Flags().IntVar(&srcVersion, "source-version", 0, "with --db container: PostgreSQL major version of the source server (image edmsdr/postgres:N)")
	cmd.Flags().IntVar(&tgtVersion, "target-version", 0, "with --db container: PostgreSQL major version of the server restored into (a second container)")
	cmd.Flags().BoolVar(&keep, "keep", false, "also keep the package (drill.edmsdr) and the id map (idmap.tsv) in the report directory")
	cmd.Flags().StringVar(&database, "database", "edmsdr_drill", "database name used on the server")
	return cmd
}
