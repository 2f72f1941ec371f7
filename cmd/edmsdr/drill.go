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
--scale        tiny (every commit), small, medium, or a number (EDMS: documents; ledger: members)`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds, err := drill.LookupDataset(dataset)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			srv, err := provider.Open(ctx, db, provider.Options{})
			if err != nil {
				return fmt.Errorf("drill: %w", err)
			}
			defer func() {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if srv.Kind() == "dsn" {
					_ = srv.DropDatabase(cctx, database)
				}
				_ = srv.Close(cctx)
			}()
			work := ""
			if keep && reportDir != "" {
				work = reportDir
			}
			rep, err := drill.Run(ctx, drill.Config{
				Source: srv, Dataset: ds, Database: database, Seed: seed, Scale: scale,
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
	cmd.Flags().BoolVar(&keep, "keep", false, "also keep the package (drill.edmsdr) and the id map (idmap.tsv) in the report directory")
	cmd.Flags().StringVar(&database, "database", "edmsdr_drill", "database name used on the server")
	return cmd
}
