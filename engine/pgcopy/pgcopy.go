// Package pgcopy runs COPY … FROM STDIN so that nothing reads the caller's source after the call
// returns. pgconn.CopyFrom (pgx v5.12) can return on an error while its goroutine still reads the
// source; a caller that then closes the source (a package being decompressed, a fixture being
// decoded) would race with it.
package pgcopy

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// errCopyOver is what a guarded reader returns once its COPY has returned.
var errCopyOver = errors.New("the COPY this source fed has ended")

// From runs sql (a COPY … FROM STDIN) on conn with r as its data. When it returns, r is no
// longer read, whatever happened to the connection. When reading r failed, that error is the
// cause and is what From returns (the server only echoes it back as "COPY from stdin failed").
func From(ctx context.Context, conn *pgconn.PgConn, r io.Reader, sql string) (pgconn.CommandTag, error) {
	g := &copyGuard{r: r}
	tag, err := conn.CopyFrom(ctx, g, sql)
	g.stop()
	if err != nil && g.readErr != nil {
		return tag, g.readErr
	}
	return tag, err
}

// copyGuard hands a package entry to pgconn.CopyFrom, whose reading goroutine can outlive the
// call: when the connection breaks or the server answers with an error mid-COPY, CopyFrom returns
// without waiting for it (pgx v5.12). Left alone, that goroutine would go on reading the entry
// while the restore closes the package under it (a data race, seen as a panic in the zstd
// decoder). stop, called once CopyFrom has returned, waits for a read in flight and makes every
// later read fail without touching the entry.
type copyGuard struct {
	mu      sync.Mutex
	r       io.Reader
	over    bool
	readErr error // the first error reading r returned, other than io.EOF
}

// Read reads from the entry unless the COPY is over.
func (g *copyGuard) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.over {
		return 0, errCopyOver
	}
	n, err := g.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && g.readErr == nil {
		g.readErr = err
	}
	return n, err
}

// stop ends the guard's reads; after it returns, the entry is no longer read.
func (g *copyGuard) stop() {
	g.mu.Lock()
	g.over = true
	g.mu.Unlock()
}
