package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/store"
)

// safetyEnv names the default of restore --safety-backup: set it in the environment restores run
// in to make a safety backup mandatory.
const safetyEnv = "EDMSDR_SAFETY_BACKUP"

const safetyHelp = `

--safety-backup LOCATION (default: the ` + safetyEnv + ` environment variable, so that an
operator can make it mandatory) writes a package of the target's current content of every table
the restore touches — every column, every row, the sequences' positions — read inside the
restore's transaction once its tables are locked and before anything is written. The restore
refuses to start when it cannot be created (an existing file is never replaced), and fails,
rolled back, when it cannot be completed: a committed restore always has its safety backup, which
'edmsdr rollback' puts back. A LOCATION ending in "/" (or an existing directory) gets a new
file safety-<UTC time>.edmsdr inside it. A dry run, a refusal or a restore with nothing to do
keeps none. The safety backup holds row content: store it like a backup.`

// safetyLocation resolves the safety backup's location: a directory (a trailing "/", or an
// existing local directory) gets a new, time-stamped name inside it.
func safetyLocation(raw string, now time.Time) string {
	path, query, hasQuery := strings.Cut(raw, "?")
	name := "safety-" + now.UTC().Format("20060102T150405.000Z") + ".edmsdr"
	dir := strings.HasSuffix(path, "/")
	if !dir && !strings.Contains(path, "://") {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			dir, path = true, path+string(filepath.Separator)
		}
	}
	if !dir {
		return raw
	}
	path += name
	if hasQuery {
		path += "?" + query
	}
	return path
}

// openSafety creates the safety backup's destination (never over an existing package).
func openSafety(ctx context.Context, raw string) (*restore.Safety, *store.Upload, error) {
	name := safetyLocation(raw, time.Now())
	loc, err := parseLocation("--safety-backup", name)
	if err != nil {
		return nil, nil, err
	}
	if !loc.IsObject() {
		if err := os.MkdirAll(filepath.Dir(loc.LocalPath()), 0o755); err != nil {
			return nil, nil, fmt.Errorf("restore refused: the safety backup %s cannot be written: %w; the target is unchanged", name, err)
		}
	}
	up, err := createPackage(ctx, loc, false)
	if err != nil {
		if _, ok := err.(usageError); ok {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("restore refused: the safety backup %s cannot be written: %w; the target is unchanged", name, err)
	}
	return &restore.Safety{Sink: up, Name: name, Tool: "edmsdr " + version}, up, nil
}
