package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/edmsdr/edmsdr/fixtures/containerpg"
)

func sweepContainers(ctx context.Context) error {
	n, err := containerpg.Sweep(ctx)
	if errors.Is(err, containerpg.ErrDockerUnavailable) {
		fmt.Println("sweep: docker unreachable, no containers to sweep")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Printf("sweep: %d leftover container(s) removed\n", n)
	return nil
}
