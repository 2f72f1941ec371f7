package store

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MetaSuffix ends the name of the metadata object written beside each package.
const MetaSuffix = ".meta.json"

// PackageSuffix ends the name of every package that List and prune consider.
const PackageSuffix = ".edmsdr"

// Location is a parsed package location: a local path or an object URL.
type Location struct {
	raw   string
	local string // the local path, when this is not an object
	obj   *objectRef
}

// objectRef is an object (or a key prefix) in an S3 bucket, with the connection settings of its URL.
type objectRef struct {
	bucket, key string
	conf        s3Config
}

// s3Config are the settings an s3:// URL may carry in its query.
type s3Config struct {
	endpoint  string // BaseEndpoint; "" uses the SDK's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, config files, AWS)
	region    string // "" uses the SDK's (AWS_REGION, config files), else us-east-1
	pathStyle bool
	profile   string // a shared config profile ("" uses AWS_PROFILE or default)
}

func (c s3Config) cacheKey() string {
	return strings.Join([]string{c.endpoint, c.region, strconv.FormatBool(c.pathStyle), c.profile}, "\x00")
}

// queryParams are the s3:// URL query parameters understood, with what they set.
var queryParams = map[string]string{
	"endpoint":       "the service endpoint, e.g. http://127.0.0.1:7070 (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the config file, else AWS)",
	"region":         "the region (default: AWS_REGION or the config file, else us-east-1)",
	"use_path_style": "true addresses the bucket in the path (most S3-compatible stores), false as a host name (AWS)",
	"profile":        "a profile of the shared AWS config and credentials files (default: AWS_PROFILE, else default)",
}

// ErrUsage marks a location that cannot be understood (bad usage, not a failed operation).
var ErrUsage = errors.New("bad location")

// Parse reads a package location: a local path, or s3://bucket/key with optional query
// parameters endpoint, region, use_path_style and profile. Credentials are never accepted in a
// location: a URL with a user, a password or an unknown parameter is refused (without echoing it).
func Parse(raw string) (*Location, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty location", ErrUsage)
	}
	if !strings.Contains(raw, "://") {
		return &Location{raw: raw, local: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL (s3://bucket/key or a local path)", ErrUsage)
	}
	if u.Scheme != "s3" {
		return nil, fmt.Errorf("%w: scheme %q is not supported (s3://bucket/key, or a local path)", ErrUsage, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: an s3:// URL carries no credentials; they come from the AWS environment variables or the shared credentials file", ErrUsage)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: s3:// URL without a bucket", ErrUsage)
	}
	ref := &objectRef{bucket: u.Host, key: strings.TrimPrefix(u.Path, "/")}
	q := u.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := queryParams[k]; !ok {
			return nil, fmt.Errorf("%w: s3:// URL parameter %q is not understood (known: endpoint, region, use_path_style, profile; credentials come only from the AWS environment variables or the shared credentials file)", ErrUsage, k)
		}
		if len(q[k]) != 1 {
			return nil, fmt.Errorf("%w: s3:// URL parameter %q given more than once", ErrUsage, k)
		}
	}
	ref.conf.endpoint = q.Get("endpoint")
	ref.conf.region = q.Get("region")
	ref.conf.profile = q.Get("profile")
	if ep := ref.conf.endpoint; ep != "" {
		eu, err := url.Parse(ep)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return nil, fmt.Errorf("%w: endpoint must be an http:// or https:// URL", ErrUsage)
		}
		if eu.User != nil {
			return nil, fmt.Errorf("%w: the endpoint URL carries no credentials; they come from the AWS environment variables or the shared credentials file", ErrUsage)
		}
	}
	if v := q.Get("use_path_style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: use_path_style must be true or false", ErrUsage)
		}
		ref.conf.pathStyle = b
	}
	return &Location{raw: raw, obj: ref}, nil
}

// String returns the location as given.
func (l *Location) String() string { return l.raw }

// IsObject reports whether the location is in object storage.
func (l *Location) IsObject() bool { return l.obj != nil }

// LocalPath returns the local path ("" for an object).
func (l *Location) LocalPath() string { return l.local }

// Base returns the last element of the location's path: the package's name.
func (l *Location) Base() string {
	if l.obj != nil {
		return path.Base(l.obj.key)
	}
	return filepath.Base(l.local)
}

// Sibling returns the location named name in the same directory (or key prefix) as l.
func (l *Location) Sibling(name string) *Location {
	if l.obj != nil {
		dir := ""
		if i := strings.LastIndexByte(l.obj.key, '/'); i >= 0 {
			dir = l.obj.key[:i+1]
		}
		return l.withKey(dir + name)
	}
	p := filepath.Join(filepath.Dir(l.local), name)
	return &Location{raw: p, local: p}
}

// Meta returns the location of the metadata object of the package at l.
func (l *Location) Meta() *Location {
	if l.obj != nil {
		return l.withKey(l.obj.key + MetaSuffix)
	}
	p := l.local + MetaSuffix
	return &Location{raw: p, local: p}
}

// withKey returns the object key in the same bucket, with the same settings.
func (l *Location) withKey(key string) *Location {
	ref := *l.obj
	ref.key = key
	u := url.URL{Scheme: "s3", Host: ref.bucket, Path: "/" + key}
	if q := l.query(); q != "" {
		u.RawQuery = q
	}
	return &Location{raw: u.String(), obj: &ref}
}

func (l *Location) query() string {
	if i := strings.IndexByte(l.raw, '?'); i >= 0 {
		return l.raw[i+1:]
	}
	return ""
}
