package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/s3gw"
)

// gateway starts a versitygw for the test and points the AWS standard chain at it.
func gateway(t *testing.T) *s3gw.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	gw, err := s3gw.Start(ctx, s3gw.Options{})
	if err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() { _ = gw.Close(context.Background()) })
	for _, kv := range gw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	clientsMu.Lock()
	clients = map[string]*s3Client{}
	clientsMu.Unlock()
	if err := gw.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	return gw
}

func mustParse(t *testing.T, raw string) *Location {
	t.Helper()
	l, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func put(t *testing.T, l *Location, data []byte, overwrite bool) (*Upload, error) {
	t.Helper()
	u, err := l.Create(context.Background(), overwrite)
	if err != nil {
		return nil, err
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 100_000)
		if _, err := u.Write(p[:n]); err != nil {
			u.Abort()
			return u, err
		}
		p = p[n:]
	}
	return u, u.Commit()
}

func read(t *testing.T, l *Location) []byte {
	t.Helper()
	r, err := l.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestObjectRoundTrip(t *testing.T) {
	gw := gateway(t)
	for _, size := range []int{0, 1000, PartSize, 2*PartSize + 12345} {
		l := mustParse(t, gw.URL("bkt", "pk/"+hex.EncodeToString(randomBytes(4))+".edmsdr", ""))
		data := randomBytes(size)
		u, err := put(t, l, data, false)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		sum := sha256.Sum256(data)
		if u.SHA256() != hex.EncodeToString(sum[:]) || u.Size() != int64(size) {
			t.Errorf("size %d: upload counted %d bytes, sha %s", size, u.Size(), u.SHA256())
		}
		if got := read(t, l); !bytes.Equal(got, data) {
			t.Errorf("size %d: read back %d bytes, not what was written", size, len(got))
		}
		if _, err := put(t, l, data, false); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("size %d: a second package of the same name: %v, want refused", size, err)
		}
	}
	ups, err := gw.Uploads(context.Background(), "bkt")
	if err != nil || len(ups) != 0 {
		t.Errorf("pending uploads after complete writes: %v %v", ups, err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	gw := gateway(t)
	ctx := context.Background()
	l := mustParse(t, gw.URL("bkt", "x.edmsdr", ""))
	u, err := l.Create(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(randomBytes(3*PartSize + 1)); err != nil {
		t.Fatal(err)
	}
	if ups, _ := gw.Uploads(ctx, "bkt"); len(ups) != 1 {
		t.Fatalf("a multipart upload should be pending while parts are written, got %v", ups)
	}
	u.Abort()
	if err := u.AbortError(); err != nil {
		t.Fatal(err)
	}
	objs, err := gw.Objects(ctx, "bkt", "")
	if err != nil || len(objs) != 0 {
		t.Errorf("objects after abort: %v %v", objs, err)
	}
	if ups, err := gw.Uploads(ctx, "bkt"); err != nil || len(ups) != 0 {
		t.Errorf("uploads after abort: %v %v", ups, err)
	}
}

func TestCancelledUploadAborts(t *testing.T) {
	gw := gateway(t)
	ctx, cancel := context.WithCancel(context.Background())
	l := mustParse(t, gw.URL("bkt", "x.edmsdr", ""))
	u, err := l.Create(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(randomBytes(2*PartSize + 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := u.Write(randomBytes(PartSize)); err == nil {
		t.Error("a write after cancel succeeded")
	}
	if err := u.Commit(); err == nil {
		t.Error("commit after cancel succeeded")
	}
	u.Abort()
	bg := context.Background()
	if objs, _ := gw.Objects(bg, "bkt", ""); len(objs) != 0 {
		t.Errorf("objects after cancel: %v", objs)
	}
	if ups, err := gw.Uploads(bg, "bkt"); err != nil || len(ups) != 0 {
		t.Errorf("uploads after cancel: %v %v", ups, err)
	}
}

func TestListAndMeta(t *testing.T) {
	gw := gateway(t)
	ctx := context.Background()
	for _, name := range []string{"a.edmsdr", "b.edmsdr", "sub/c.edmsdr", "other.txt"} {
		if err := gw.Put(ctx, "bkt", "bk/"+name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	a := mustParse(t, gw.URL("bkt", "bk/a.edmsdr", ""))
	if err := a.WriteMeta(ctx, Meta{Package: "a.edmsdr", Database: "db", Digest: "d", Size: 8}); err != nil {
		t.Fatal(err)
	}
	objs, err := mustParse(t, gw.URL("bkt", "bk/", "")).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	if got := strings.Join(names, ","); got != "a.edmsdr,a.edmsdr.meta.json,b.edmsdr,other.txt" {
		t.Errorf("list: %s", got)
	}
	m, err := a.ReadMeta(ctx)
	if err != nil || m.Database != "db" || m.MetaFormat != 1 {
		t.Errorf("meta: %+v %v", m, err)
	}
	b := mustParse(t, gw.URL("bkt", "bk/b.edmsdr", ""))
	if _, err := b.ReadMeta(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("meta of a package without one: %v, want ErrNotFound", err)
	}
	objs, err = mustParse(t, gw.URL("bkt", "bk/a", "")).List(ctx)
	if err != nil || len(objs) != 2 {
		t.Errorf("list of a name prefix: %v %v", objs, err)
	}
	if err := a.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Stat(ctx); !errors.Is(err, ErrNotFound) {
		t.Errorf("stat after remove: %v", err)
	}
}

func TestCredentialsNeverInErrors(t *testing.T) {
	gw := gateway(t)
	access, secret := gw.Credentials()
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret+"x")
	l := mustParse(t, gw.URL("bkt", "x.edmsdr", ""))
	_, err := put(t, l, []byte("data"), false)
	if err == nil {
		t.Fatal("a write with a wrong secret succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, access) || strings.Contains(msg, secret) {
		t.Errorf("error shows a credential: %s", msg)
	}
	_, err = l.Open(context.Background())
	if err == nil || strings.Contains(err.Error(), access) || strings.Contains(err.Error(), secret) {
		t.Errorf("read error: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{
		"s3://AKIAEXAMPLE:secretvalue@bucket/key",
		"s3://bucket/key?access_key=secretvalue",
		"s3://bucket/key?endpoint=http://user:secretvalue@host",
		"s3://bucket/key?use_path_style=maybe",
		"gs://bucket/key",
		"s3:///key",
	} {
		_, err := Parse(bad)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%s: %v, want ErrUsage", bad, err)
		} else if strings.Contains(err.Error(), "secretvalue") {
			t.Errorf("%s: the error echoes a secret: %v", bad, err)
		}
	}
	l := mustParse(t, "s3://bk/dir/p.edmsdr?endpoint=http://127.0.0.1:9&use_path_style=true")
	if l.Base() != "p.edmsdr" || l.Meta().String() != "s3://bk/dir/p.edmsdr.meta.json?endpoint=http://127.0.0.1:9&use_path_style=true" {
		t.Errorf("base %s, meta %s", l.Base(), l.Meta())
	}
	if s := l.Sibling("q.edmsdr").String(); s != "s3://bk/dir/q.edmsdr?endpoint=http://127.0.0.1:9&use_path_style=true" {
		t.Errorf("sibling %s", s)
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	l := mustParse(t, filepath.Join(dir, "p.edmsdr"))
	data := randomBytes(1000)
	if _, err := put(t, l, data, false); err != nil {
		t.Fatal(err)
	}
	if _, err := put(t, l, data, false); err == nil {
		t.Error("overwrote an existing file")
	}
	if err := l.WriteMeta(context.Background(), Meta{Package: "p.edmsdr"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, l), data) {
		t.Error("read back differs")
	}
	objs, err := mustParse(t, dir).List(context.Background())
	if err != nil || len(objs) != 2 || objs[0].Name != "p.edmsdr" {
		t.Errorf("list: %+v %v", objs, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".partial") {
			t.Errorf("left %s", e.Name())
		}
	}
}
