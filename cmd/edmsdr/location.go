package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/store"
)

// locationHelp is appended to the long help of the commands that take a package location.
const locationHelp = `

Package locations are local paths or object URLs: s3://bucket/prefix/name.edmsdr, with optional
query parameters endpoint=URL, region=NAME, use_path_style=true|false and profile=NAME
(otherwise AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_PROFILE and the AWS config files apply).
Credentials come only from the AWS standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
the shared credentials file, SSO, instance roles), never from a flag or the URL.`

// parseLocation parses a package location given to flag; a malformed one is bad usage.
func parseLocation(flag, raw string) (*store.Location, error) {
	loc, err := store.Parse(raw)
	if err != nil {
		if errors.Is(err, store.ErrUsage) {
			return nil, usagef("%s: %v", flag, err)
		}
		return nil, err
	}
	return loc, nil
}

// createPackage starts writing a package at loc, or returns a usage error.
func createPackage(ctx context.Context, loc *store.Location, overwrite bool) (*store.Upload, error) {
	up, err := loc.Create(ctx, overwrite)
	if err != nil {
		if errors.Is(err, store.ErrUsage) {
			return nil, usageError{err}
		}
		return nil, err
	}
	return up, nil
}

// abortNote prints what an aborted upload left behind, if anything.
func abortNote(g *globals, up *store.Upload) {
	if up == nil {
		return
	}
	if err := up.AbortError(); err != nil {
		fmt.Fprintf(g.stderr, "warning: %v\n", err)
	}
}

// writeMeta writes the metadata object beside a package that was just written; a failure is a
// warning (the package itself is complete, list then reads it whole).
func writeMeta(ctx context.Context, g *globals, loc *store.Location, m store.Meta) {
	if err := loc.WriteMeta(ctx, m); err != nil {
		fmt.Fprintf(g.stderr, "warning: the package is complete, but its metadata (%s) was not written: list and prune will read the package itself: %v\n", loc.Meta(), err)
	}
}

// copyToLocation uploads the local package file src (manifest m) to loc with its metadata.
func copyToLocation(ctx context.Context, g *globals, src string, loc *store.Location, overwrite bool, m *pack.Manifest) error {
	up, metaErr, err := loc.PutPackage(ctx, src, m, overwrite)
	if err != nil {
		if errors.Is(err, store.ErrUsage) {
			return usageError{err}
		}
		abortNote(g, up)
		return err
	}
	if metaErr != nil {
		fmt.Fprintf(g.stderr, "warning: the package is complete, but its metadata (%s) was not written: list and prune will read the package itself: %v\n", loc.Meta(), metaErr)
	}
	return nil
}

func isNotFoundErr(err error) bool { return errors.Is(err, store.ErrNotFound) }
