package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// localBackend is a path on the local file system.
type localBackend struct{ loc *Location }

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

func (b *localBackend) open(context.Context) (io.ReadCloser, error) {
	f, err := os.Open(b.loc.local)
	if err != nil {
		return nil, notFound(err)
	}
	return f, nil
}

func (b *localBackend) create(_ context.Context, overwrite bool) (pack.Sink, error) {
	return pack.CreateFile(b.loc.local, overwrite)
}

func (b *localBackend) stat(context.Context) (Object, error) {
	st, err := os.Stat(b.loc.local)
	if err != nil {
		return Object{}, notFound(err)
	}
	return Object{Location: b.loc, Name: filepath.Base(b.loc.local), Size: st.Size(), ModTime: st.ModTime()}, nil
}

func (b *localBackend) list(context.Context) ([]Object, error) {
	dir, prefix := b.loc.local, ""
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir, prefix = filepath.Dir(dir), filepath.Base(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, notFound(err)
	}
	var out []Object
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		p := filepath.Join(dir, e.Name())
		out = append(out, Object{Location: &Location{raw: p, local: p}, Name: e.Name(), Size: info.Size(), ModTime: info.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *localBackend) remove(context.Context) error {
	return notFound(os.Remove(b.loc.local))
}

// putSmall writes data to PATH.partial, fsyncs and renames it.
func (b *localBackend) putSmall(_ context.Context, data []byte) error {
	sink, err := pack.CreateFile(b.loc.local, true)
	if err != nil {
		return err
	}
	if _, err := sink.Write(data); err != nil {
		sink.Abort()
		return fmt.Errorf("write %s: %w", b.loc, err)
	}
	if err := sink.Commit(); err != nil {
		sink.Abort()
		return fmt.Errorf("write %s: %w", b.loc, err)
	}
	return nil
}
