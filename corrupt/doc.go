// Package corrupt damages packages and Django fixtures on purpose, deterministically, for the
// suites that prove every corruption ends in a clear refusal (or, for harmless damage, in an exact
// restore). Registry lists every named injector with what it applies to and the detection it
// expects; suites iterate it. The primitives beneath it are exported for tests: Unpack, Repack
// and Reseal work on a package's tar entries, and Rewrite edits a package's rows with checksums
// and counts recomputed, so that only the engine's reconciliation and validation can catch what
// was changed. Flip damages whole packages at random, for property tests.
package corrupt
