package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// cpuProfileEnv names a file to write a pprof CPU profile of the whole command into (a
// debugging aid, not a flag: go tool pprof edmsdr FILE). Unset, nothing is profiled.
const cpuProfileEnv = "EDMSDR_CPUPROFILE"

// startCPUProfile starts the CPU profile EDMSDR_CPUPROFILE asks for and returns the function
// that stops and writes it; a profile that cannot be started is reported and skipped.
func startCPUProfile(stderr io.Writer) func() {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "edmsdr: %s: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "edmsdr: %s: %v\n", cpuProfileEnv, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "edmsdr: %s: %v\n", cpuProfileEnv, err)
		}
	}
}
