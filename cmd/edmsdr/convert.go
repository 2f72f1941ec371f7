package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/legacy"
	"github.com/edmsdr/edmsdr/engine/pack"
)

// newConvertCmd: edmsdr convert --in LEGACY.json --out FILE [--keys FILE] (Django fixture -> package).
func newConvertCmd(g *globals) *cobra.Command {
	var (
		dsnStr, in, out, keysPath string
		overwrite                 bool
	)
	cmd := &cobra.Command{
		Use:   "convert --in LEGACY.json --out FILE|URL [--keys FILE] [--dsn DSN]",
		Short: "Convert a Django dumpdata fixture into a package",
		Long: `Convert a Django dumpdata fixture (JSON array, JSON Lines, either gzip-compressed; id-based or
with natural foreign and primary keys) into a package. Restoring the package is the same as
restoring the fixture with 'edmsdr restore --in LEGACY.json'.

A fixture carries no schema: no column types, no foreign keys. convert reads them from the
database --dsn names (or the PG* variables, as psql), which must hold the schema the fixture
belongs to — typically the re-initialised target itself. convert only reads it: everything happens
in temporary tables of a transaction that is rolled back.

Models map to tables by Django's conventions (app_label_model, field_id for foreign keys,
table_field for many-to-many) unless the keys file's django: section says otherwise. A model's
natural key layout (its parts' order; each foreign key's key spliced or nested) is the keys file's
django: models: M: natural_key, or learned from the lists the fixture gives (printed as the
keys-file line to add), or refused when the fixture cannot tell. A fixture
that cannot be converted exactly is refused with every finding (malformed JSON with its line and
column, unknown models or fields, values of the wrong type, references to objects the fixture
does not contain, duplicate keys), and no file is written.` + locationHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return usagef("--in is required")
			}
			if out == "" {
				return usagef("--out is required")
			}
			loc, err := parseLocation("--out", out)
			if err != nil {
				return err
			}
			if _, err := dsn.Config(dsnStr); err != nil {
				return usageError{err}
			}
			kf, err := keys.LoadFile(keysPath)
			if err != nil {
				return err
			}
			f, err := os.Open(in)
			if err != nil {
				return fmt.Errorf("convert: %w", err)
			}
			defer f.Close()
			ctx := cmd.Context()
			conn, err := connectForSchema(ctx, dsnStr, "convert")
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			local := out
			if loc.IsObject() {
				// An object is written from a converted file in a temporary directory.
				if _, err := loc.Stat(ctx); err == nil && !overwrite {
					return fmt.Errorf("convert: %s exists (choose another name or remove it)", loc)
				}
				dir, err := os.MkdirTemp("", "edmsdr-convert-")
				if err != nil {
					return fmt.Errorf("convert: %w", err)
				}
				defer os.RemoveAll(dir)
				local = filepath.Join(dir, loc.Base())
			}
			res, err := legacy.Convert(ctx, conn, f, local, legacy.ConvertOptions{
				Keys: kf, Tool: "edmsdr " + version, Name: filepath.Base(in), Log: g.log,
				Writer: pack.WriterOptions{Overwrite: overwrite},
			})
			if err != nil {
				return refusal(g, "convert", err, "nothing was written")
			}
			if loc.IsObject() {
				if err := copyToLocation(ctx, g, local, loc, overwrite, res.Manifest); err != nil {
					return fmt.Errorf("convert: %w (nothing was written)", err)
				}
				res.Path = out
			}
			printConvert(g.stdout, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "Django fixture: .json, .jsonl or .json.gz (required)")
	cmd.Flags().StringVar(&out, "out", "", "package file or object URL to write (required)")
	cmd.Flags().StringVar(&keysPath, "keys", "", "keys file (YAML): natural keys, exclusions, django: model overrides")
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "database holding the fixture's schema (URL or keyword DSN; PG* variables apply); only read")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace an existing package file")
	return cmd
}

// connectForSchema connects to the database whose schema a fixture is read against.
func connectForSchema(ctx context.Context, dsnStr, op string) (*pgx.Conn, error) {
	conn, err := dsn.Connect(ctx, dsnStr)
	if err != nil {
		return nil, fmt.Errorf("%s: a fixture carries no schema (no types, no foreign keys): it is read against a database "+
			"that holds the schema it belongs to, typically the re-initialised target (--dsn, or the PG* variables); "+
			"no such database is reachable: %w", op, err)
	}
	return conn, nil
}

// refusal prints the findings of a refused operation on stderr and returns the one-line error.
func refusal(g *globals, op string, err error, state string) error {
	if fl := finding.FindingsOf(err); fl != nil {
		for _, x := range fl.Errors() {
			fmt.Fprintf(g.stderr, "  %s\n", x)
		}
		return fmt.Errorf("%s refused: %d finding(s); %s", op, len(fl.Errors()), state)
	}
	return fmt.Errorf("%w (%s)", err, state)
}

func printConvert(w io.Writer, res *legacy.ConvertResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tobjects\trows\treferences\t")
	for _, t := range res.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", t.Table, t.Objects, t.Rows, t.Refs)
	}
	tw.Flush()
	for model, n := range res.Skipped {
		fmt.Fprintf(w, "note: %d objects of %s left out: the keys file excludes its table\n", n, model)
	}
	printLearned(w, res)
	fmt.Fprintf(w, "package written: %s (%d objects, %d rows, %d reference rows, %s)\ndigest %s\n",
		res.Path, res.Objects, res.Rows, res.RefRows, res.Elapsed.Round(1e6), res.Manifest.Digest.Total)
}

// isFixture says whether the input of restore is a Django fixture rather than a package: by its
// first bytes (JSON, gzip), or by its name when the content says nothing.
func isFixture(head []byte, name string) bool {
	switch pack.Sniff(head) {
	case "json", "gzip":
		return true
	case "":
		n := strings.ToLower(name)
		return strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".jsonl") || strings.HasSuffix(n, ".json.gz") || strings.HasSuffix(n, ".jsonl.gz")
	}
	return false
}

// fixtureAsPackage returns what restore reads: src itself when it is a package, or, when it is
// a Django fixture, a package converted from it against the target conn (in a temporary
// directory that cleanup removes). A refused conversion prints its findings.
func fixtureAsPackage(ctx context.Context, g *globals, conn *pgx.Conn, src io.Reader, name string, kf *keys.File) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(512)
	if !isFixture(head, name) {
		return br, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "edmsdr-fixture-")
	if err != nil {
		return nil, nil, fmt.Errorf("restore: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, "fixture.edmsdr")
	g.log.Info("converting fixture", "fixture", name, "package", path)
	res, err := legacy.Convert(ctx, conn, br, path, legacy.ConvertOptions{Keys: kf, Tool: "edmsdr " + version, Name: filepath.Base(name), Log: g.log})
	if err != nil {
		cleanup()
		return nil, nil, refusal(g, "restore", err, "the target is unchanged")
	}
	fmt.Fprintf(g.stdout, "fixture %s: %d objects converted into %d rows and %d reference rows\n", filepath.Base(name), res.Objects, res.Rows, res.RefRows)
	for model, n := range res.Skipped {
		fmt.Fprintf(g.stdout, "note: %d objects of %s left out: the keys file excludes its table\n", n, model)
	}
	printLearned(g.stdout, res)
	f, err := os.Open(path)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("restore: %w", err)
	}
	return f, func() { f.Close(); cleanup() }, nil
}

// printLearned says which natural key layouts were read from the fixture, as the keys-file line
// that declares each (edmsdr fixture needs it to write the same layout back).
func printLearned(w io.Writer, res *legacy.ConvertResult) {
	for _, l := range res.Learned {
		fmt.Fprintf(w, "note: natural keys of %s read as %s (not the key plan's %s); for edmsdr fixture to write them so, add to the keys file: django: models: %s: natural_key: %s\n",
			l.Model, l.Layout, l.Default, l.Model, l.Layout)
	}
}
