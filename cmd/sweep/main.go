// Command sweep removes what crashed test runs left behind: throwaway local clusters whose owner
// process is gone, and the harness's containers. CI runs it before and after the tests.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/localpg"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	status := 0
	n, err := localpg.Sweep(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sweep local clusters: %v\n", err)
		status = 1
	}
	fmt.Printf("sweep: %d leftover local cluster(s) removed\n", n)
	if err := sweepContainers(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "sweep containers: %v\n", err)
		status = 1
	}
	os.Exit(status)
}
