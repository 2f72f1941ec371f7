package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// drillIn writes a file called edmsdr-drill with mode into a new directory and returns the
// directory.
func drillIn(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, drillName), []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFindDrillPrefersTheOneBesideTheBinary(t *testing.T) {
	beside, onPath := drillIn(t, 0o755), drillIn(t, 0o755)
	t.Setenv("PATH", onPath)
	got, err := findDrill(filepath.Join(beside, "edmsdr"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(beside, drillName); got != want {
		t.Errorf("findDrill = %s, want %s (beside the binary)", got, want)
	}
}

func TestFindDrillFallsBackToPath(t *testing.T) {
	onPath := drillIn(t, 0o755)
	t.Setenv("PATH", onPath)
	for name, self := range map[string]string{
		"nothing beside":           filepath.Join(t.TempDir(), "edmsdr"),
		"not executable beside":    filepath.Join(drillIn(t, 0o644), "edmsdr"),
		"running binary not known": "",
	} {
		got, err := findDrill(self)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := filepath.Join(onPath, drillName); got != want {
			t.Errorf("%s: findDrill = %s, want %s (on PATH)", name, got, want)
		}
	}
}

func TestFindDrillSaysWhereItLooked(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	self := filepath.Join(t.TempDir(), "edmsdr")
	_, err := findDrill(self)
	if err == nil {
		t.Fatal("findDrill found an edmsdr-drill where there is none")
	}
	for _, want := range []string{filepath.Join(filepath.Dir(self), drillName), "PATH", "make build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestFindDrillIgnoresRelativePathEntries(t *testing.T) {
	dir := drillIn(t, 0o755)
	t.Chdir(dir)
	t.Setenv("PATH", ".")
	if got, err := findDrill(""); err == nil {
		t.Errorf("findDrill = %s through the relative PATH entry \".\", want an error", got)
	}
}
