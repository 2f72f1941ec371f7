package suitekit

import (
	"context"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // the suites' DSL
	. "github.com/onsi/gomega"    //nolint:revive // the suites' DSL

	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/generators/edmsgen"
)

// EDMSSource creates a database on srv for the current spec holding an original EDMS install
// filled by edmsgen (tiny profile) from seed, and returns its URL.
func EDMSSource(ctx context.Context, srv provider.Server, seed int64) string {
	GinkgoHelper()
	url := srv.DSN(NewDatabase(ctx, srv, "src"))
	Expect(edms.Install(ctx, url, edms.SeedOptions{})).To(Succeed())
	p, err := edmsgen.ProfileByName("tiny")
	Expect(err).NotTo(HaveOccurred())
	conn := Connect(ctx, url)
	_, err = edmsgen.Generate(ctx, conn, seed, p)
	Expect(err).NotTo(HaveOccurred(), "generate EDMS data (tiny, seed %d)", seed)
	Expect(conn.Close(ctx)).To(Succeed())
	return url
}

// EDMSTarget creates a database on srv for the current spec holding a re-initialised EDMS
// install (the seeded rows under other ids), and returns its URL.
func EDMSTarget(ctx context.Context, srv provider.Server) string {
	GinkgoHelper()
	url := srv.DSN(NewDatabase(ctx, srv, "tgt"))
	Expect(edms.Install(ctx, url, edms.SeedOptions{Reinit: true})).To(Succeed())
	return url
}
