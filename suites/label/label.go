// Package label names the Ginkgo labels of the suites, once: specs label themselves with these
// constants, and CI (.ci/run) reads Required, through `go run ./suites/label/required`, to know
// which labels must not be skipped. It imports nothing, so that reading it costs nothing.
package label

// The labels. A spec carries the label of its concern and of the dataset or resource it needs.
const (
	// Cycle: backup → reinit → restore → validate cycles (suites/cycle).
	Cycle = "cycle"
	// EDMS and Ledger: the dataset a spec runs on.
	EDMS   = "edms"
	Ledger = "ledger"
	// Digest: the logical digest itself.
	Digest = "digest"
	// CLI: the edmsdr binary as users run it; Drill: its drill command (edmsdr-drill).
	CLI   = "cli"
	Drill = "drill"
	// Container: specs that need Docker and the edmsdr/postgres images; CrossVersion: restores
	// from one PostgreSQL major version into another (containers).
	Container    = "container"
	CrossVersion = "crossversion"
	// Bench: measurements (suites/bench); Slow: long-running.
	Bench = "bench"
	Slow  = "slow"
	// Security and its parts: Seal (encryption, signatures), Injection (hostile names and
	// values), Secrets (no password in output), Privilege (non-superuser roles).
	Security  = "security"
	Seal      = "seal"
	Injection = "injection"
	Secrets   = "secrets"
	Privilege = "privilege"
	// Legacy: Django fixtures without Django; Memory: their memory bound.
	Legacy = "legacy"
	Memory = "memory"
	// Django: real Django (Debian's python3-django) dumping and loading.
	Django = "django"
	// Compat: every committed sample in testdata/ restores forever.
	Compat = "compat"
	// Corruption: the corrupt/ registry of injectors; Property: its randomised trials.
	Corruption = "corruption"
	Property   = "property"
	// Chaos: server kills, network faults, CLI kills, a full disk, concurrent writers.
	Chaos = "chaos"
	// S3: packages in object storage, against versitygw started by the harness (suites/s3).
	S3 = "s3"
	// Rollback: replace-mode restores, safety backups, rollback and the restore journal
	// (suites/rollback).
	Rollback = "rollback"
	// Regress: small synthetic schemas the fixtures never have (keyless parents, partitions,
	// undeclared references), each a regression spec for a wrong outcome once seen (suites/regress).
	Regress = "regress"
	// HTML: the drill's HTML report rendered in headless Chromium (Debian's chromium).
	HTML = "html"
	// Zoo: the schema zoo (fixtures/zoo) and random schemas (generators/schemagen), judged by the
	// independent oracle (suites/zoo).
	Zoo = "zoo"
)

// Required are the labels whose specs must run wherever CI runs (it installs what they need): a
// skipped or absent one fails the run. Container is required too, but only where Docker
// answers; .ci/run adds it then.
var Required = []string{Cycle, CLI, Legacy, Django, Compat, Corruption, Security, Chaos, S3, Rollback, Regress, HTML, Zoo}
