package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/legacy"
)

// newFixtureCmd: edmsdr fixture --in FILE --out FIXTURE.json (package -> Django natural-key fixture).
func newFixtureCmd(g *globals) *cobra.Command {
	var (
		in, out, keysPath, dsnStr, tmp string
		overwrite, strict              bool
	)
	cmd := &cobra.Command{
		Use:   "fixture --in FILE|URL --out FIXTURE.json [--keys FILE] [--dsn TARGET]",
		Short: "Write a package as a Django loaddata fixture with natural keys",
		Long: `Write a package as a fixture that Django's loaddata accepts: a JSON array of
{"model", "pk", "fields"} objects. References to models with a natural key are natural keys
(lists), and such models' objects have no pk (natural primary keys); many-to-many tables are folded
into their owner's field as lists. Model names come from the package's content types (or the keys
file's django: section). Tables that are neither a model nor a many-to-many table of one
(django_migrations, tables no content type names) are left out, as dumpdata leaves them out, and
listed; such a table is refused instead when an exported model refers to it, or when the package
has no content types at all.

Django writes a generic foreign key's object_id as a plain pk. Objects that one names keep their
pk, so that object_id stays right. --dsn TARGET names the database the fixture is meant for: rows
it already holds (by natural key) are then named by their pk there, and a pk it gives to another
row is refused. Without --dsn a warning says how many objects kept their pk; --strict refuses
instead.

The package is read three times (verify, index, write); the index of natural keys lives in a
temporary directory (--tmp), not in memory. The fixture is written to FIXTURE.json.partial and
renamed.` + locationHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return usagef("--in is required")
			}
			if out == "" {
				return usagef("--out is required")
			}
			kf, err := keys.LoadFile(keysPath)
			if err != nil {
				return err
			}
			loc, err := parseLocation("--in", in)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if _, err := loc.Stat(ctx); err != nil {
				return fmt.Errorf("fixture: %w", err)
			}
			opts := legacy.ExportOptions{
				Open: func() (io.ReadCloser, error) { return loc.Open(ctx) },
				Keys: kf, TempDir: tmp, Overwrite: overwrite, Strict: strict, Log: g.log,
			}
			if cmd.Flags().Changed("dsn") {
				if _, err := dsn.Config(dsnStr); err != nil {
					return usageError{err}
				}
				conn, err := dsn.Connect(ctx, dsnStr)
				if err != nil {
					return fmt.Errorf("fixture: --dsn names the database the fixture is meant for, which is not reachable: %w", err)
				}
				defer conn.Close(context.WithoutCancel(ctx))
				res, err := legacy.NewTargetResolver(ctx, conn)
				if err != nil {
					return err
				}
				defer res.Close(ctx)
				opts.Resolver = res
			}
			res, err := legacy.Export(ctx, out, opts)
			if err != nil {
				return refusal(g, "fixture", err, "nothing was written")
			}
			if len(res.Skipped) > 0 {
				names := make([]string, len(res.Skipped))
				for i, sk := range res.Skipped {
					names[i] = fmt.Sprintf("%s (%d rows)", sk.Table, sk.Rows)
				}
				fmt.Fprintf(g.stdout, "skipped %d tables that are no Django model (no content type, no many-to-many table), as dumpdata skips them: %s\n",
					len(res.Skipped), strings.Join(names, ", "))
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(g.stderr, "warning: %s\n", w)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "model\ttable\tobjects\twith pk\t")
			for _, m := range res.Models {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t\n", m.Model, m.Table, m.Objects, m.WithPK)
			}
			tw.Flush()
			fmt.Fprintf(g.stdout, "fixture written: %s (%d objects, %s)\n", res.Path, res.Objects, res.Elapsed.Round(1e6))
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "package file or object URL (required)")
	cmd.Flags().StringVar(&out, "out", "", "fixture to write (required)")
	cmd.Flags().StringVar(&keysPath, "keys", "", "keys file (YAML): django: model names, fields and natural keys")
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "the database the fixture will be loaded into: resolve and check the pks generic foreign keys need (URL or keyword DSN; PG* variables apply); only read")
	cmd.Flags().StringVar(&tmp, "tmp", "", "directory for the temporary natural-key index (default: the system's)")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace an existing fixture")
	cmd.Flags().BoolVar(&strict, "strict", false, "without --dsn, refuse when objects keep their pk for generic foreign keys instead of warning")
	return cmd
}
