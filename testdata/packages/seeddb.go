//go:build ignore

// seeddb installs a dataset (schema and the seeders of a fresh install) into an existing, empty
// database and fills it with the generator's deterministic data. It is the record of how the
// committed sample packages were made (see testdata/README.md); it is never run by the tests.
//
//	go run ./testdata/packages/seeddb.go --dataset edms --scale tiny --seed 1 --dsn postgres://...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/dsn"
)

func main() {
	dataset := flag.String("dataset", "edms", "dataset: edms or ledger")
	scale := flag.String("scale", "tiny", "scale profile")
	seed := flag.Int64("seed", 1, "generator seed")
	url := flag.String("dsn", "", "empty target database")
	flag.Parse()
	if err := run(context.Background(), *dataset, *scale, *seed, *url); err != nil {
		fmt.Fprintln(os.Stderr, "seeddb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataset, scale string, seed int64, url string) error {
	ds, err := drill.LookupDataset(dataset)
	if err != nil {
		return err
	}
	if err := ds.Install(ctx, url, drill.InstallOptions{}); err != nil {
		return fmt.Errorf("install %s: %w", dataset, err)
	}
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := ds.Generate(ctx, conn, seed, scale)
	if err != nil {
		return fmt.Errorf("generate %s seed %d scale %s: %w", dataset, seed, scale, err)
	}
	var n int64
	for _, r := range rows {
		n += r
	}
	fmt.Printf("%s seed %d scale %s: %d rows generated\n", dataset, seed, scale, n)
	return nil
}
