package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3Client is one configured S3 client and the credential values its errors must never show.
type s3Client struct {
	api     *s3.Client
	secrets []string
}

var (
	clientsMu sync.Mutex
	clients   = map[string]*s3Client{}
)

// clientFor returns the client for conf, configured through the SDK's standard chain.
func clientFor(ctx context.Context, conf s3Config) (*s3Client, error) {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if c, ok := clients[conf.cacheKey()]; ok {
		return c, nil
	}
	var opts []func(*config.LoadOptions) error
	if conf.region != "" {
		opts = append(opts, config.WithRegion(conf.region))
	}
	if conf.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(conf.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or the shared credentials file ~/.aws/credentials): %w", err)
	}
	c := &s3Client{secrets: []string{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken}}
	c.api = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if conf.endpoint != "" {
			o.BaseEndpoint = aws.String(conf.endpoint)
		}
		o.UsePathStyle = conf.pathStyle
	})
	clients[conf.cacheKey()] = c
	return c, nil
}

// storeError is an error of the object store with every credential value removed from its text.
type storeError struct {
	msg  string
	err  error
	kind error // ErrNotFound or nil
}

func (e *storeError) Error() string { return e.msg }

func (e *storeError) Unwrap() []error {
	if e.kind != nil {
		return []error{e.err, e.kind}
	}
	return []error{e.err}
}

// wrap names the operation and the location, and scrubs the credentials.
func (c *s3Client) wrap(err error, op string, loc fmt.Stringer) error {
	msg := fmt.Sprintf("%s %s: %v", op, loc, err)
	if c != nil {
		for _, s := range c.secrets {
			if len(s) >= 4 {
				msg = strings.ReplaceAll(msg, s, "[redacted]")
			}
		}
	}
	se := &storeError{msg: msg, err: err}
	if isNotFound(err) {
		se.kind = ErrNotFound
	}
	return se
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	return apiCode(err) == "NoSuchKey" || apiCode(err) == "NotFound"
}

// s3Backend is an object (or key prefix) in an S3 bucket.
type s3Backend struct{ loc *Location }

func (b *s3Backend) client(ctx context.Context) (*s3Client, error) {
	c, err := clientFor(ctx, b.loc.obj.conf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.loc, err)
	}
	return c, nil
}

func (b *s3Backend) bucket() *string { return aws.String(b.loc.obj.bucket) }
func (b *s3Backend) key() *string    { return aws.String(b.loc.obj.key) }

func (b *s3Backend) needKey() error {
	if b.loc.obj.key == "" || strings.HasSuffix(b.loc.obj.key, "/") {
		return fmt.Errorf("%w: %s names a prefix, not an object (add the package's name)", ErrUsage, b.loc)
	}
	return nil
}

func (b *s3Backend) stat(ctx context.Context) (Object, error) {
	if err := b.needKey(); err != nil {
		return Object{}, err
	}
	c, err := b.client(ctx)
	if err != nil {
		return Object{}, err
	}
	out, err := c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b.bucket(), Key: b.key()})
	if err != nil {
		return Object{}, c.wrap(err, "stat", b.loc)
	}
	return Object{Location: b.loc, Name: path.Base(b.loc.obj.key), Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (b *s3Backend) remove(ctx context.Context) error {
	if err := b.needKey(); err != nil {
		return err
	}
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b.bucket(), Key: b.key()}); err != nil {
		return c.wrap(err, "remove", b.loc)
	}
	return nil
}

func (b *s3Backend) putSmall(ctx context.Context, data []byte) error {
	if err := b.needKey(); err != nil {
		return err
	}
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.api.PutObject(ctx, &s3.PutObjectInput{Bucket: b.bucket(), Key: b.key(), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json")})
	if err != nil {
		return c.wrap(err, "write", b.loc)
	}
	return nil
}

func (b *s3Backend) list(ctx context.Context) ([]Object, error) {
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	prefix := b.loc.obj.key
	dir := prefix[:strings.LastIndexByte(prefix, '/')+1]
	p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{Bucket: b.bucket(), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	var out []Object
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.wrap(err, "list", b.loc)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasPrefix(key, dir) || strings.HasSuffix(key, "/") {
				continue
			}
			out = append(out, Object{Location: b.loc.withKey(key), Name: key[len(dir):], Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// PendingUpload is a multipart upload that was started and neither completed nor aborted: the
// trace of a backup that was killed (no process could abort it) or is running now.
type PendingUpload struct {
	Location  *Location
	ID        string
	Initiated time.Time
}

// PendingUploads lists the multipart uploads under the prefix l (none for a local location).
func (l *Location) PendingUploads(ctx context.Context) ([]PendingUpload, error) {
	if l.obj == nil {
		return nil, nil
	}
	b := &s3Backend{loc: l}
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	prefix := l.obj.key
	dir := prefix[:strings.LastIndexByte(prefix, '/')+1]
	in := &s3.ListMultipartUploadsInput{Bucket: b.bucket(), Prefix: aws.String(prefix)}
	var out []PendingUpload
	for {
		page, err := c.api.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, c.wrap(err, "list multipart uploads", l)
		}
		for _, u := range page.Uploads {
			key := aws.ToString(u.Key)
			if strings.Contains(key[len(dir):], "/") {
				continue
			}
			out = append(out, PendingUpload{Location: l.withKey(key), ID: aws.ToString(u.UploadId), Initiated: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	return out, nil
}

// Abort aborts the pending upload: its parts are deleted and it can never complete.
func (p PendingUpload) Abort(ctx context.Context) error {
	b := &s3Backend{loc: p.Location}
	c, err := b.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b.bucket(), Key: b.key(), UploadId: aws.String(p.ID)})
	if err != nil && apiCode(err) != "NoSuchUpload" {
		return c.wrap(err, "abort upload", p.Location)
	}
	// A part whose request was still on its way when the abort arrived can land after it (a
	// cancelled client does not wait for the server): S3 documents that an abort may then have to
	// be repeated. The upload is gone only when the store says it no longer knows it.
	_, err = c.api.ListParts(ctx, &s3.ListPartsInput{Bucket: b.bucket(), Key: b.key(), UploadId: aws.String(p.ID), MaxParts: aws.Int32(1)})
	switch {
	case err == nil:
		return fmt.Errorf("abort upload %s of %s: parts still arrive after the abort", p.ID, p.Location)
	case apiCode(err) == "NoSuchUpload":
		return nil
	default:
		return c.wrap(err, "check the aborted upload", p.Location)
	}
}

// readRetries is how often a read resumes (a ranged GET from where it stopped) after its
// connection broke.
const readRetries = 5

func (b *s3Backend) open(ctx context.Context) (io.ReadCloser, error) {
	if err := b.needKey(); err != nil {
		return nil, err
	}
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	r := &objectReader{ctx: ctx, c: c, b: b}
	if err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

// objectReader streams an object; when the connection breaks it resumes with a ranged GET of the
// same version (If-Match its ETag), so that a long read survives a reset without starting over.
type objectReader struct {
	ctx     context.Context
	c       *s3Client
	b       *s3Backend
	body    io.ReadCloser
	etag    string
	size    int64
	off     int64
	retries int
}

func (r *objectReader) get() error {
	in := &s3.GetObjectInput{Bucket: r.b.bucket(), Key: r.b.key()}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", r.off))
	}
	out, err := r.c.api.GetObject(r.ctx, in)
	if err != nil {
		if r.etag != "" && apiCode(err) == "PreconditionFailed" {
			return fmt.Errorf("read %s: the object was replaced while being read", r.b.loc)
		}
		return r.c.wrap(err, "read", r.b.loc)
	}
	if r.etag == "" {
		r.etag = aws.ToString(out.ETag)
		r.size = aws.ToInt64(out.ContentLength)
	}
	r.body = out.Body
	return nil
}

// Read implements io.Reader.
func (r *objectReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			return 0, fmt.Errorf("read %s: closed", r.b.loc)
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == nil || (errors.Is(err, io.EOF) && r.off == r.size) {
			return n, err
		}
		// The body ended early or broke: resume where it stopped.
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if r.retries >= readRetries || r.ctx.Err() != nil || r.etag == "" {
			return n, r.c.wrap(err, "read", r.b.loc)
		}
		r.retries++
		r.body.Close()
		r.body = nil
		if gerr := r.get(); gerr != nil {
			return n, gerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close releases the connection.
func (r *objectReader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
