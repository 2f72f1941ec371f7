package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// addTimeoutFlag registers --timeout on cmd. A server or network that stops answering while the
// connection stays open (a hung server, a blackholing middlebox) is noticed by nothing else:
// TCP keepalive is answered and statement_timeout never runs.
func addTimeoutFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "timeout", 0, "give up after this long (e.g. 30m), rolling back / removing the partial package; 0 means no limit")
}

// withTimeout bounds ctx by d (0: no bound).
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	if d < 0 {
		return nil, nil, usagef("--timeout must not be negative, got %s", d)
	}
	if d == 0 {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d, fmt.Errorf("--timeout %s reached", d))
	return ctx, cancel, nil
}

// timeoutError names the --timeout when err comes from reaching it.
func timeoutError(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v)", err, cause)
	}
	return err
}
