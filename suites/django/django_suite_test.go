// Package django_test proves edmsdr against real Django (Debian's python3-django, run by
// /usr/bin/python3): the test project in testdata/django is migrated and filled on a source
// database; its dumpdata fixtures (id-based and natural-key, with and without content types and
// permissions) are restored by edmsdr into a database that Django migrated again under other ids;
// edmsdr's own fixtures are loaded by Django's loaddata; and every result is compared by the
// logical digest. Specs skip, saying why, only when Django cannot be imported.
package django_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// python is Debian's interpreter, the one python3-django is installed for (the PATH's python3
// may be another).
const python = "/usr/bin/python3"

var (
	knobs = suitekit.LoadKnobs()
	srv   provider.Server
	bin   string
	// project is the Django test project's directory; keysFile its keys file.
	project, keysFile string
	// djangoSkip says why the specs skip ("" when Django is importable).
	djangoSkip string
	// seed made the source data; src is this process's source database (migrated and filled)
	// and srcDigest its `edmsdr digest` output.
	seed      int64
	src       string
	srcDigest string
)

func TestDjango(t *testing.T) { suitekit.RunSuite(t, "Django suite") }

var _ = SynchronizedBeforeSuite(suitekit.BuildCLI, func(ctx SpecContext, cli []byte) {
	Expect(knobs.Err).NotTo(HaveOccurred())
	bin = string(cli)
	var err error
	project, err = filepath.Abs("../../testdata/django")
	Expect(err).NotTo(HaveOccurred())
	keysFile = filepath.Join(project, "keys.yaml")
	if out, err := exec.CommandContext(ctx, python, "-c", "import django").CombinedOutput(); err != nil {
		djangoSkip = "Django is not importable by " + python + " (apt-get install python3-django python3-psycopg2): " +
			strings.TrimSpace(string(out)) + " " + err.Error()
		return
	}
	srv = suitekit.StartServer(ctx, knobs.DB)
	seed = knobs.Seeds[0]
	src = migrated(ctx, "src", false)
	manage(ctx, src, "seed_edms", "--seed", itoa(seed))
	srcDigest = digestOf(src)
}, NodeTimeout(5*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, suitekit.CleanupCLI)
