package main

import "github.com/spf13/cobra"

// newFixtureCmd: edmsdr fixture --in FILE --out FIXTURE.json (package -> Django natural-key fixture).
func newFixtureCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "fixture --in FILE --out FIXTURE.json",
		Short: "Write a package as a Django loaddata fixture with natural keys",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("fixture: not implemented yet")
		},
	}
}
