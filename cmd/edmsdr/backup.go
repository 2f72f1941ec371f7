package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/store"
)

func newBackupCmd(g *globals) *cobra.Command {
	var (
		dsnStr, out, keysPath string
		schemas               []string
		overwrite             bool
		streams               int
		timeout               time.Duration
	)
	var sf sealFlags
	cmd := &cobra.Command{
		Use:   "backup --dsn DSN --out FILE|URL [--keys FILE]",
		Short: "Back up a database into a package (natural keys, one consistent snapshot)",
		Long: `Back up every table of the database (one REPEATABLE READ snapshot) into a package: COPY
entries per table, the schema snapshot, the key plan and the logical digest, zstd-compressed.
The package is written to FILE.partial, fsynced and renamed: it exists whole or not at all. An
object (s3://…) is sent as a multipart upload in parts of 8 MiB (at most 3 in memory) and becomes
visible only when the upload completes; a failed or interrupted backup aborts the upload. Beside
the package, NAME.meta.json records its time, size, checksum, database and digest for list and
prune.` + backupSealHelp + locationHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			if streams < 1 || streams > 2 {
				return usagef("--streams must be 1 or 2, not %d", streams)
			}
			loc, err := parseLocation("--out", out)
			if err != nil {
				return err
			}
			cfg, err := dsn.Config(dsnStr)
			if err != nil {
				return usageError{err}
			}
			kf, err := keys.LoadFile(keysPath)
			if err != nil {
				return err
			}
			wopts := pack.WriterOptions{Overwrite: overwrite}
			sealed, err := sf.writerOptions(g, &wopts)
			if err != nil {
				return err
			}
			ctx, cancel, err := withTimeout(cmd.Context(), timeout)
			if err != nil {
				return err
			}
			defer cancel()
			up, err := createPackage(ctx, loc, overwrite)
			if err != nil {
				return timeoutError(ctx, err)
			}
			largeValue, err := largeValueEnv()
			if err != nil {
				return err
			}
			res, err := backup.RunTo(ctx, cfg, up, out, backup.Options{
				Keys: kf, Schemas: schemas, Tool: "edmsdr " + version, Log: g.log,
				Writer: wopts, Streams: streams, LargeValue: largeValue,
			})
			if err != nil {
				abortNote(g, up)
				return timeoutError(ctx, err)
			}
			writeMeta(ctx, g, loc, store.MetaOf(loc.Base(), res.Manifest, up.Size(), up.SHA256(), sf.encrypted, sf.signedBy))
			var rows int64
			for _, t := range res.Manifest.Tables {
				rows += t.Rows
			}
			fmt.Fprintf(g.stdout, "backup written: %s (%d tables, %d rows, %d bytes, %s)\n%sdigest %s\n",
				res.Path, len(res.Manifest.Tables), rows, res.Bytes, res.Elapsed.Round(1e6), sealLine(sealed), res.Manifest.Digest.Total)
			for _, w := range res.Warnings {
				fmt.Fprintf(g.stdout, "warning: %s.%s: %s\n", w.Table, w.Column, w.Message)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "source database (URL or keyword DSN; PG* variables apply)")
	cmd.Flags().StringVar(&out, "out", "", "package file or object URL to write (required)")
	cmd.Flags().StringVar(&keysPath, "keys", "", "keys file (YAML): natural keys, generic foreign keys, exclusions")
	cmd.Flags().StringSliceVar(&schemas, "schema", nil, "back up only these schemas (default: all non-system schemas)")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace an existing package")
	cmd.Flags().IntVar(&streams, "streams", 1, "connections reading tables at once, in the same snapshot: 2 adds a second one, whose tables wait in unlinked files in $TMPDIR (uncompressed) for their turn (faster only where a core is idle)")
	addTimeoutFlag(cmd, &timeout)
	sf.addWriteFlags(cmd)
	return cmd
}

// largeValueVar is the variable that sets backup.Options.LargeValue (bytes): a bytea longer
// travels as a large value entry of its own. Tests set it low; unset is the default, 256 MiB.
const largeValueVar = "EDMSDR_LARGE_VALUE_BYTES"

// largeValueEnv reads largeValueVar (0 when unset).
func largeValueEnv() (int64, error) {
	v := os.Getenv(largeValueVar)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, usagef("%s must be a positive number of bytes, not %q", largeValueVar, v)
	}
	return n, nil
}
