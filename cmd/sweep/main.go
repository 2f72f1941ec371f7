// Command sweep removes what crashed test runs left behind: throwaway local clusters whose owner
// process is gone, S3 gateways (fixtures/s3gw) likewise, and the harness's containers. CI runs it before and after the tests.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/localpg"
	"github.com/edmsdr/edmsdr/fixtures/s3gw"
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
	g, err := s3gw.Sweep(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sweep S3 gateways: %v\n", err)
		status = 1
	}
	fmt.Printf("sweep: %d leftover S3 gateway(s) removed\n", g)
	if err := sweepContainers(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "sweep containers: %v\n", err)
		status = 1
	}
	os.Exit(status)
}
