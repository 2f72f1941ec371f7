package main

import "github.com/spf13/cobra"

// newConvertCmd: edmsdr convert --in LEGACY.json --out FILE [--keys FILE] (Django fixture -> package).
func newConvertCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "convert --in LEGACY.json --out FILE [--keys FILE]",
		Short: "Convert a Django dumpdata fixture into a package",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("convert: not implemented yet")
		},
	}
}
