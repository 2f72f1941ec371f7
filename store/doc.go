// Package store opens the places packages live: a local path, or an object in S3-compatible
// object storage (s3://bucket/key). It reads a package as one stream, writes one atomically (a
// local file through NAME.partial, fsync and rename; an object through a multipart upload that is
// completed only after the last byte and aborted on any error or cancellation, so that an
// interrupted backup leaves neither an object nor an upload behind), lists a prefix, removes
// packages, and keeps a small metadata object beside each package (NAME.meta.json) so that list
// and prune need not download packages to learn their time, database and digest.
//
// It lives outside engine/ on purpose: the engine reads and writes packages through io.Reader and
// pack.Sink and stays free of a cloud SDK; only the CLI links this package and the AWS SDK for Go
// v2 (service/s3 and config) that it uses. No request signing is written here: the SDK signs,
// resolves credentials through its standard chain (environment, shared config and credentials
// files, SSO, web identity, instance roles) and reads region and endpoint from the usual AWS
// variables and config files. Credentials are never taken from a URL or a flag, and every error
// this package returns has the resolved access key, secret and session token removed from its
// text.
package store
