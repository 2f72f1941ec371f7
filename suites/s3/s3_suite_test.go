// Package s3_test proves that packages live in S3-compatible object storage as safely as in
// files: against a real S3 server started by the harness (versitygw with its POSIX backend,
// fixtures/s3gw), the CLI backs up to s3:// and restores from it with equal digests, keeps a
// drill's package there, leaves neither an object nor a multipart upload behind when an upload is
// interrupted, refuses a damaged object, prunes exactly what a retention policy says, and never
// prints a credential.
package s3_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/fixtures/s3gw"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

const bucket = "edmsdr-backups"

var (
	knobs = suitekit.LoadKnobs()
	srv   provider.Server
	bin   string
	gw    *s3gw.Server
)

func TestS3(t *testing.T) { suitekit.RunSuite(t, "S3 suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 15*time.Minute, func(ctx SpecContext) {
	var err error
	gw, err = s3gw.Start(ctx, s3gw.Options{Log: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred(), "start versitygw")
	DeferCleanup(func(ctx SpecContext) error { return gw.Close(ctx) }, NodeTimeout(time.Minute))
	Expect(gw.CreateBucket(ctx, bucket)).To(Succeed())
	// The specs that write packages in-process (store) reach the gateway through the same
	// standard chain as the CLI.
	for _, kv := range gw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		Expect(os.Setenv(k, v)).To(Succeed())
	}
})

var prefixes atomic.Int64

// prefix is a key prefix of its own for the current spec.
func prefix() string {
	return fmt.Sprintf("p%d-%d/", GinkgoParallelProcess(), prefixes.Add(1))
}

// url is the s3:// URL of key in the suite's bucket, through endpoint ("" for the gateway itself).
func url(key, endpoint string) string { return gw.URL(bucket, key, endpoint) }

// command is edmsdr with args in a clean environment holding the gateway's credentials.
func command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = suitekit.CleanEnv(append(gw.Env(), env...)...)
	return cmd
}

// noCredentials fails when text shows the gateway's access key or secret.
func noCredentials(what string, text []byte) {
	GinkgoHelper()
	access, secret := gw.Credentials()
	Expect(string(text)).NotTo(ContainSubstring(access), "%s shows the access key", what)
	Expect(string(text)).NotTo(ContainSubstring(secret), "%s shows the secret key", what)
}

// edmsdr runs the CLI to the end; whatever it prints must hold no credential.
func edmsdr(env []string, args ...string) *gexec.Session {
	GinkgoHelper()
	s := suitekit.Run(command(env, args...), 5*time.Minute)
	noCredentials("stdout of edmsdr "+args[0], s.Out.Contents())
	noCredentials("stderr of edmsdr "+args[0], s.Err.Contents())
	return s
}

// succeed runs the CLI and requires exit 0.
func succeed(args ...string) *gexec.Session {
	GinkgoHelper()
	s := edmsdr(nil, args...)
	Expect(s.ExitCode()).To(Equal(0), "edmsdr %s: %s", strings.Join(args, " "), s.Err.Contents())
	return s
}

// objects lists the keys under p in the bucket.
func objects(ctx context.Context, p string) []string {
	GinkgoHelper()
	objs, err := gw.Objects(ctx, bucket, p)
	Expect(err).NotTo(HaveOccurred())
	keys := []string{}
	for _, o := range objs {
		keys = append(keys, strings.TrimPrefix(o.Key, p))
	}
	return keys
}

// uploads lists the unfinished multipart uploads of the bucket under p.
func uploads(ctx context.Context, p string) []string {
	GinkgoHelper()
	ups, err := gw.Uploads(ctx, bucket)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, u := range ups {
		if strings.HasPrefix(u, p) {
			out = append(out, u)
		}
	}
	return out
}
