package main

import (
	"fmt"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/keys"
)

func newDigestCmd(g *globals) *cobra.Command {
	var dsnStr, keysPath string
	var schemas []string
	cmd := &cobra.Command{
		Use:   "digest --dsn DSN [--keys FILE]",
		Short: "Print the logical digest of a database: one line per table, then 'total <hex>'",
		Long: `Print the logical digest of a database's data: independent of ids (every reference is
replaced by the identity of the row it points at), of row order, and multiset-correct. Two
databases with equal digests hold the same data. Lines: "<table> <rows> <hex>", then "total <hex>".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := dsn.Config(dsnStr)
			if err != nil {
				return usageError{err}
			}
			kf, err := keys.LoadFile(keysPath)
			if err != nil {
				return err
			}
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return fmt.Errorf("digest: connect to %s: %w", dsn.Describe(cfg), dsn.Scrub(err, cfg.Password))
			}
			defer conn.Close(ctx)
			db, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{Keys: kf, Schemas: schemas})
			if err != nil {
				return err
			}
			sum := db.Summary
			for _, l := range sum.Lines() {
				fmt.Fprintln(g.stdout, l)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "database (URL or keyword DSN; PG* variables apply)")
	cmd.Flags().StringVar(&keysPath, "keys", "", "keys file (YAML)")
	cmd.Flags().StringSliceVar(&schemas, "schema", nil, "only these schemas")
	return cmd
}
