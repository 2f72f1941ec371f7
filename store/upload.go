package store

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// Upload sizing: parts of PartSize bytes (doubling every partsPerStep parts, so that the 10,000
// parts S3 allows reach terabytes), at most partConcurrency in flight. Memory is bounded by
// (partConcurrency+1) parts whatever the size of the package.
const (
	PartSize        = 8 << 20
	partsPerStep    = 1000
	partConcurrency = 2
	maxParts        = 10000
	// abortWindow is how long an abort keeps trying (the network may come back meanwhile).
	abortWindow = 2 * time.Minute
)

func partSizeFor(number int32) int {
	step := (int(number) - 1) / partsPerStep
	return PartSize << min(step, 9)
}

// s3Upload writes an object: a single PUT when it fits in one part, else a multipart upload that
// is completed only at Commit and aborted on any failure.
type s3Upload struct {
	b         *s3Backend
	c         *s3Client
	ctx       context.Context
	cancel    context.CancelFunc
	overwrite bool

	buf       []byte
	next      int32 // number of the next part
	uploadID  string
	work      chan part
	free      chan []byte
	allocated int
	wg        sync.WaitGroup

	mu       sync.Mutex
	parts    []types.CompletedPart
	err      error
	done     bool
	abortErr error
}

type part struct {
	number int32
	data   []byte
}

func (b *s3Backend) create(ctx context.Context, overwrite bool) (pack.Sink, error) {
	if err := b.needKey(); err != nil {
		return nil, err
	}
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	// Refuse an existing package now, before any work (Commit refuses it again, atomically,
	// where the store supports conditional writes); this also checks access to the bucket.
	_, err = c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b.bucket(), Key: b.key()})
	switch {
	case err == nil && !overwrite:
		return nil, fmt.Errorf("create package %s: object exists (choose another name or remove it)", b.loc)
	case err != nil && !isNotFound(err):
		return nil, c.wrap(err, "create package", b.loc)
	}
	uctx, cancel := context.WithCancel(ctx)
	u := &s3Upload{b: b, c: c, ctx: uctx, cancel: cancel, overwrite: overwrite, next: 1,
		free: make(chan []byte, partConcurrency+1)}
	u.buf = u.newBuffer(1)
	return u, nil
}

func (u *s3Upload) newBuffer(number int32) []byte {
	return make([]byte, 0, partSizeFor(number))
}

func (u *s3Upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *s3Upload) fail(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.mu.Unlock()
	u.cancel()
}

// Write buffers p and sends every full part.
func (u *s3Upload) Write(p []byte) (int, error) {
	if u.done {
		return 0, fmt.Errorf("write %s: upload already finished", u.b.loc)
	}
	written := 0
	for len(p) > 0 {
		if err := u.failed(); err != nil {
			return written, err
		}
		n := min(len(p), cap(u.buf)-len(u.buf))
		u.buf = append(u.buf, p[:n]...)
		p = p[n:]
		written += n
		if len(u.buf) == cap(u.buf) {
			if err := u.send(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// send hands the full buffer to the part uploaders (starting the multipart upload with the
// first part) and takes a buffer for the next part.
func (u *s3Upload) send() error {
	if u.next > maxParts {
		err := fmt.Errorf("write %s: the package needs more than %d parts", u.b.loc, maxParts)
		u.fail(err)
		return err
	}
	if u.uploadID == "" {
		in := &s3.CreateMultipartUploadInput{Bucket: u.b.bucket(), Key: u.b.key(), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			ContentType: aws.String("application/octet-stream")}
		out, err := u.c.api.CreateMultipartUpload(u.ctx, in)
		if err != nil {
			err = u.c.wrap(err, "start upload", u.b.loc)
			u.fail(err)
			return err
		}
		u.uploadID = aws.ToString(out.UploadId)
		u.work = make(chan part)
		for range partConcurrency {
			u.wg.Add(1)
			go u.uploader()
		}
	}
	select {
	case u.work <- part{number: u.next, data: u.buf}:
	case <-u.ctx.Done():
		return u.stopped()
	}
	u.next++
	size := partSizeFor(u.next)
	for {
		select {
		case b := <-u.free:
			if cap(b) >= size {
				u.buf = b[:0]
				return nil
			}
			u.allocated--
			continue
		default:
		}
		if u.allocated < partConcurrency+1 {
			u.allocated++
			u.buf = u.newBuffer(u.next)
			return nil
		}
		select {
		case b := <-u.free:
			if cap(b) >= size {
				u.buf = b[:0]
				return nil
			}
			u.allocated--
		case <-u.ctx.Done():
			return u.stopped()
		}
	}
}

// stopped is the error of a write that stopped because the upload failed or ctx ended.
func (u *s3Upload) stopped() error {
	if err := u.failed(); err != nil {
		return err
	}
	return fmt.Errorf("write %s: %w", u.b.loc, context.Cause(u.ctx))
}

func (u *s3Upload) uploader() {
	defer u.wg.Done()
	for p := range u.work {
		if u.failed() == nil {
			out, err := u.c.api.UploadPart(u.ctx, &s3.UploadPartInput{
				Bucket: u.b.bucket(), Key: u.b.key(), UploadId: aws.String(u.uploadID), PartNumber: aws.Int32(p.number),
				Body: bytes.NewReader(p.data), ContentLength: aws.Int64(int64(len(p.data))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
			})
			if err != nil {
				u.fail(u.c.wrap(err, fmt.Sprintf("upload part %d of", p.number), u.b.loc))
			} else {
				u.mu.Lock()
				u.parts = append(u.parts, types.CompletedPart{PartNumber: aws.Int32(p.number), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
				u.mu.Unlock()
			}
		}
		select {
		case u.free <- p.data:
		default:
		}
	}
}

// Commit sends what is left and completes the upload; on any failure the upload is aborted.
func (u *s3Upload) Commit() error {
	if u.done {
		return fmt.Errorf("write %s: upload already finished", u.b.loc)
	}
	if err := u.failed(); err != nil {
		return err
	}
	var ifNoneMatch *string
	if !u.overwrite {
		ifNoneMatch = aws.String("*")
	}
	if u.uploadID == "" {
		_, err := u.c.api.PutObject(u.ctx, &s3.PutObjectInput{Bucket: u.b.bucket(), Key: u.b.key(), Body: bytes.NewReader(u.buf),
			ContentLength: aws.Int64(int64(len(u.buf))), IfNoneMatch: ifNoneMatch, ContentType: aws.String("application/octet-stream")})
		if err != nil {
			err = u.commitError(err)
			u.fail(err)
			return err
		}
		u.done = true
		u.cancel()
		return nil
	}
	if len(u.buf) > 0 {
		if err := u.sendLast(); err != nil {
			return err
		}
	}
	close(u.work)
	u.wg.Wait()
	u.work = nil
	if err := u.failed(); err != nil {
		return err
	}
	sort.Slice(u.parts, func(i, j int) bool { return *u.parts[i].PartNumber < *u.parts[j].PartNumber })
	_, err := u.c.api.CompleteMultipartUpload(u.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: u.b.bucket(), Key: u.b.key(), UploadId: aws.String(u.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts}, IfNoneMatch: ifNoneMatch,
	})
	if err != nil {
		err = u.commitError(err)
		u.fail(err)
		return err
	}
	u.done = true
	u.cancel()
	return nil
}

func (u *s3Upload) sendLast() error {
	select {
	case u.work <- part{number: u.next, data: u.buf}:
		u.next++
		u.buf = nil
		return nil
	case <-u.ctx.Done():
		return u.stopped()
	}
}

func (u *s3Upload) commitError(err error) error {
	if code := apiCode(err); code == "PreconditionFailed" || code == "ConditionalRequestConflict" {
		return fmt.Errorf("create package %s: an object of that name appeared while the package was written (choose another name or remove it)", u.b.loc)
	}
	return u.c.wrap(err, "complete upload", u.b.loc)
}

// Abort stops the part uploads and aborts the multipart upload, with a context of its own: a
// cancelled or timed-out backup still removes its parts. It keeps trying for abortWindow.
func (u *s3Upload) Abort() {
	if u.done {
		return
	}
	u.done = true
	u.cancel()
	if u.work != nil {
		close(u.work)
		u.work = nil
	}
	u.wg.Wait()
	if u.uploadID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), abortWindow)
	defer cancel()
	pu := PendingUpload{Location: u.b.loc, ID: u.uploadID}
	// A part request cancelled on our side may still be handled by the store after the abort
	// and bring the upload back: it counts as gone only when two checks settleDelay apart both
	// find it gone.
	delay := 200 * time.Millisecond
	gone := 0
	for {
		err := pu.Abort(ctx)
		if err == nil {
			if gone++; gone == 2 {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(settleDelay):
			}
			continue
		}
		gone = 0
		select {
		case <-ctx.Done():
			u.abortErr = fmt.Errorf("%w; the unfinished upload %s holds no visible object but keeps its parts until aborted: run edmsdr prune on its prefix, or set a lifecycle rule AbortIncompleteMultipartUpload on the bucket", err, u.uploadID)
			return
		case <-time.After(delay):
			delay = min(delay*2, 5*time.Second)
		}
	}
}

// settleDelay is how long Abort waits before it checks again that an aborted upload stayed gone.
const settleDelay = 500 * time.Millisecond

// AbortError returns why Abort could not abort the multipart upload (nil when it did, or there
// was none).
func (u *s3Upload) AbortError() error { return u.abortErr }

// AbortError returns why an aborted upload left something behind (nil when it left nothing).
func (u *Upload) AbortError() error {
	if ae, ok := u.sink.(interface{ AbortError() error }); ok {
		return ae.AbortError()
	}
	return nil
}
