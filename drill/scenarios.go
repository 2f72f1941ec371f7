package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/reports"
)

// Scenario names. The cycle runs first, always (it makes the package the others damage or
// replay); the others are samples of what their suites run in full.
const (
	ScenarioCycle      = "cycle"
	ScenarioCorruption = "corruption"
	ScenarioChaos      = "chaos"
)

// Scenarios lists the scenarios a drill can run, in the order they run.
var Scenarios = []string{ScenarioCycle, ScenarioLegacy, ScenarioCorruption, ScenarioChaos, ScenarioBench}

// ParseScenarios reads a comma-separated scenario list ("cycle,corruption"): every name known,
// the cycle included (every other scenario starts from its package).
func ParseScenarios(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q: this build runs %s", s, strings.Join(Scenarios, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if !slices.Contains(out, ScenarioCycle) {
		return nil, fmt.Errorf("scenarios %q lack cycle: every scenario starts from the cycle's package", list)
	}
	return out, nil
}

// corruptionSample is how many package injectors the corruption scenario applies (chosen by the
// seed); the corruption suite applies every one at every seed.
const corruptionSample = 6

// chaosSteps are the restore steps at which the chaos scenario kills the server.
var chaosSteps = []string{restore.HookInsertedTable, restore.HookValidated, restore.HookCommit}

// scenarios runs the scenarios after the cycle, on the cycle's package.
func (r *runner) scenarios(ctx context.Context, pkgPath string, reinit func(context.Context) error) {
	for _, name := range r.cfg.Scenarios {
		if name == ScenarioCycle {
			continue
		}
		start := time.Now()
		var s reports.Scenario
		switch {
		case name == ScenarioLegacy:
			s = r.legacyScenario(ctx, pkgPath, reinit)
		case name == ScenarioCorruption:
			s = r.corruption(ctx, pkgPath, reinit)
		case name == ScenarioChaos:
			s = r.chaos(ctx, pkgPath, reinit)
		case name == ScenarioBench:
			s = r.bench(ctx, pkgPath)
		}
		s.Name, s.Elapsed = name, time.Since(start)
		if s.Verdict == "" {
			vs := make([]finding.Verdict, 0, len(s.Checks))
			for _, c := range s.Checks {
				vs = append(vs, c.Verdict)
			}
			s.Verdict = finding.Combine(vs...)
			if s.Error != "" && s.Verdict == finding.Pass {
				s.Verdict = finding.Unknown
			}
		}
		r.log.Info("drill scenario done", "scenario", name, "verdict", s.Verdict, "elapsed", s.Elapsed)
		r.extra = append(r.extra, s)
		r.phase("scenario " + name)
	}
}

// scratch re-initialises the target database and returns a connection to it and its digest.
func (r *runner) scratch(ctx context.Context, reinit func(context.Context) error) (string, pack.Digest, error) {
	if err := reinit(ctx); err != nil {
		return "", pack.Digest{}, err
	}
	url := r.target.DSN(r.cfg.Database)
	d, err := digestOf(ctx, url)
	return url, d, err
}

func digestOf(ctx context.Context, url string) (pack.Digest, error) {
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return pack.Digest{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	d, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{})
	if err != nil {
		return pack.Digest{}, err
	}
	return d.Summary, nil
}

// restoreInto restores data into url, with the cycle's policy for matched rows that differ.
func (r *runner) restoreInto(ctx context.Context, url string, data []byte, hook func(context.Context, string) error) (*restore.Result, error) {
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return restore.Run(ctx, conn, bytes.NewReader(data), restore.Options{Hook: hook, OnExisting: r.onExisting})
}

// corruption damages the package with a sample of the corrupt/ registry's package injectors and
// checks that each damage is caught as the injector declares (verify and restore refuse with an
// acceptable finding kind, or harmless damage restores exactly) and that a refused restore left
// the scratch database exactly as it was.
func (r *runner) corruption(ctx context.Context, pkgPath string, reinit func(context.Context) error) reports.Scenario {
	var s reports.Scenario
	pkg, err := os.ReadFile(pkgPath)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	var injectors []corrupt.Injector
	for _, in := range corrupt.Registry() {
		if in.AppliesTo == corrupt.Package {
			injectors = append(injectors, in)
		}
	}
	if len(injectors) == 0 {
		s.Error = "no package injector in the registry"
		return s
	}
	seed := r.cfg.Seed
	first := int(uint64(seed) % uint64(len(injectors)))
	dirty := true
	var url string
	var clean pack.Digest
	for i := 0; i < len(injectors) && len(s.Checks) < corruptionSample; i++ {
		in := injectors[(first+i)%len(injectors)]
		damaged, err := in.Inject(pkg, seed)
		if errors.Is(err, corrupt.ErrNotApplicable) {
			continue
		}
		c := finding.Check{Name: "corruption " + in.Name, Verdict: finding.Pass}
		if err != nil {
			c.Verdict, c.Evidence = finding.Unknown, "the damage could not be made: "+err.Error()
			s.Checks = append(s.Checks, c)
			continue
		}
		var notes []string
		fail := func(format string, args ...any) {
			c.Verdict = finding.Fail
			notes = append(notes, fmt.Sprintf(format, args...))
		}
		d := in.Detection
		_, verr := pack.Verify(bytes.NewReader(damaged), pack.Limits{})
		switch {
		case d.Verify == corrupt.Refuse && d.Refusal(verr) != nil:
			fail("verify: %v", d.Refusal(verr))
		case d.Verify == corrupt.Accept && verr != nil:
			fail("verify refused harmless or restore-only damage: %v", verr)
		case verr != nil:
			notes = append(notes, "verify refused ("+kinds(verr)+")")
		default:
			notes = append(notes, "verify accepted")
		}
		if dirty {
			if url, clean, err = r.scratch(ctx, reinit); err != nil {
				c.Verdict, c.Evidence = finding.Unknown, "the scratch database could not be prepared: "+dsn.Redact(err.Error())
				s.Checks = append(s.Checks, c)
				continue
			}
			dirty = false
		}
		res, rerr := r.restoreInto(ctx, url, damaged, nil)
		after, derr := digestOf(ctx, url)
		switch {
		case derr != nil:
			c.Verdict = finding.Unknown
			notes = append(notes, "the target could not be digested: "+dsn.Redact(derr.Error()))
		case d.Restore == corrupt.Exact:
			dirty = true
			if rerr != nil {
				fail("restore refused harmless damage: %v", dsn.Redact(rerr.Error()))
			} else if m, _ := pack.Verify(bytes.NewReader(pkg), pack.Limits{}); m == nil || after.Total != m.Digest.Total {
				fail("restore of harmless damage did not bring back exactly the package's data")
			} else {
				notes = append(notes, "restored exactly")
			}
		default:
			if rerr == nil || (res != nil && res.Committed) {
				dirty = true
				fail("restore committed damaged data")
			} else if err := d.Refusal(rerr); err != nil {
				fail("restore: %v", err)
			} else {
				notes = append(notes, "restore refused ("+kinds(rerr)+")")
			}
			if after.Total != clean.Total {
				dirty = true
				fail("the target changed")
			} else {
				notes = append(notes, "target untouched")
			}
		}
		c.Evidence = fmt.Sprintf("%s (expected %s, seed %d): %s", in.Name, d, seed, strings.Join(notes, "; "))
		s.Checks = append(s.Checks, c)
	}
	return s
}

func kinds(err error) string {
	fl := finding.FindingsOf(err)
	if fl == nil {
		return "no findings"
	}
	var ks []string
	for _, k := range fl.Errors().Kinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// chaos kills the scratch server at restore steps (a table inserted, validation passed, COMMIT
// about to be sent), brings it back, and checks that each killed restore left the target exactly
// as it was; then a restore without a fault must complete with the package's digest. It needs a
// server the drill may kill: its own (--db local or container).
func (r *runner) chaos(ctx context.Context, pkgPath string, reinit func(context.Context) error) reports.Scenario {
	var s reports.Scenario
	if k := r.target.Kind(); k != "local" && k != "container" {
		s.Verdict = finding.Unknown
		s.Checks = []finding.Check{{Name: "chaos", Verdict: finding.Unknown,
			Evidence: fmt.Sprintf("not run: the chaos scenario kills the server, and a %s server is not the drill's own; use --db local or --db container", k)}}
		return s
	}
	pkg, err := os.ReadFile(pkgPath)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	url, clean, err := r.scratch(ctx, reinit)
	if err != nil {
		s.Error = "the scratch database could not be prepared: " + dsn.Redact(err.Error())
		return s
	}
	for _, step := range chaosSteps {
		c := finding.Check{Name: "server killed at restore step " + step, Verdict: finding.Pass}
		killed := false
		_, rerr := r.restoreInto(ctx, url, pkg, func(ctx context.Context, at string) error {
			if at != step || killed {
				return nil
			}
			killed = true
			return r.target.Kill(ctx)
		})
		if !killed {
			c.Verdict, c.Evidence = finding.Unknown, "the restore never reached step "+step
			s.Checks = append(s.Checks, c)
			continue
		}
		if err := r.target.Start(ctx); err != nil {
			c.Verdict, c.Evidence = finding.Unknown, "the server did not come back: "+dsn.Redact(err.Error())
			s.Checks = append(s.Checks, c)
			return s
		}
		url = r.target.DSN(r.cfg.Database) // a container may come back on another port
		after, derr := digestOf(ctx, url)
		switch {
		case derr != nil:
			c.Verdict, c.Evidence = finding.Unknown, "the target could not be digested: "+dsn.Redact(derr.Error())
		case rerr == nil:
			c.Verdict, c.Evidence = finding.Fail, "the restore reported success although the server died"
		case after.Total != clean.Total:
			c.Verdict, c.Evidence = finding.Fail, "the killed restore changed the target: "+dsn.Redact(rerr.Error())
		default:
			c.Evidence = "the restore failed (" + firstLine(dsn.Redact(rerr.Error())) + ") and the target is exactly as before"
		}
		s.Checks = append(s.Checks, c)
	}
	c := finding.Check{Name: "restore after the crashes", Verdict: finding.Pass}
	res, rerr := r.restoreInto(ctx, url, pkg, nil)
	after, derr := digestOf(ctx, url)
	switch {
	case rerr != nil:
		c.Verdict, c.Evidence = finding.Fail, "the restore after the crashes failed: "+dsn.Redact(rerr.Error())
	case derr != nil:
		c.Verdict, c.Evidence = finding.Unknown, "the target could not be digested: "+dsn.Redact(derr.Error())
	case res.Verdict != finding.Pass:
		c.Verdict, c.Evidence = res.Verdict, "the restore after the crashes ended "+string(res.Verdict)
	default:
		c.Evidence = "restored, verdict PASS, restored digest " + short(res.RestoredDigest) + " equals the package's; database digest " + short(after.Total)
	}
	s.Checks = append(s.Checks, c)
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
