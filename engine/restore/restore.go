package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// MinServerVersion is the oldest PostgreSQL a restore runs against (server_version_num).
const MinServerVersion = 130000

// OnExisting says what to do with a row matched by natural key whose content differs.
type OnExisting string

// Policies for matched rows that differ from the backup.
const (
	Reuse  OnExisting = "reuse"  // keep the target's row, report it as diverged
	Update OnExisting = "update" // overwrite the target's row with the backup's
	Fail   OnExisting = "fail"   // refuse the restore
)

// ParseOnExisting validates a policy name.
func ParseOnExisting(s string) (OnExisting, error) {
	switch OnExisting(s) {
	case Reuse, Update, Fail:
		return OnExisting(s), nil
	case "":
		return Reuse, nil
	}
	return "", fmt.Errorf("policy for existing rows must be reuse, update or fail, not %q", s)
}

// Options tune a restore.
type Options struct {
	// Keys overrides the package's key plan for matching rows (validated against the target).
	Keys *keys.File
	// OnExisting is the policy for matched rows whose content differs (default Reuse).
	OnExisting OnExisting
	// Safety, if set, asks for a safety backup of every table the restore touches, taken before
	// anything is written (see Safety).
	Safety *Safety
	// Mode is Merge (default) or Replace (empty the package's tables, load its rows with their
	// ids kept).
	Mode Mode
	// DryRun does everything, then rolls back.
	DryRun bool
	// KeepIDs names the tables (qualified or as displayed; "*" for all) whose rows keep their
	// source ids when the target already has rows, wherever an id collides with none of the
	// target's (colliding rows get fresh ids). Into an empty table source ids are always kept.
	KeepIDs []string
	// AppendKeyless inserts keyless rows even when equal rows already exist in the target
	// (by default that is refused: it would duplicate them).
	AppendKeyless bool
	// IDMap, if set, receives the id map (table, source id, target id, matched|inserted) as TSV
	// before the commit.
	IDMap io.Writer
	// LockTimeout bounds the wait for the target's tables (default 30s).
	LockTimeout time.Duration
	// Limits bound what the package reader accepts.
	Limits pack.Limits
	// Log receives progress; nil discards.
	Log *slog.Logger
	// KeepConstraints keeps the target's foreign keys in place during the load (each row checked
	// by the server as it goes). By default, when the restoring role owns the tables, foreign keys
	// are dropped and added back inside the transaction, validated set-based.
	KeepConstraints bool
	// Hook, if set, is called at every step boundary with the step's name (HookStaging,
	// HookStagedEntry, HookMapped, HookPreflight, HookInsertedTable, HookValidated, HookCommit,
	// HookCommitted). Fault-injection tests use it to act at a precise moment; an error it returns
	// aborts the restore (rolled back).
	Hook func(ctx context.Context, step string) error
	// Authenticate, if set, is called with the manifest's bytes exactly as stored and the
	// package's signature entry (nil when unsigned) once the whole package has been read, before
	// anything is checked against or written to the target's tables; an error refuses the
	// restore (its findings, when it carries some, are the restore's).
	Authenticate func(manifest, signature []byte) error
	// Schemas, if set, are the only schemas the restore may write into: a package table in any
	// other schema refuses the restore before anything is written. By default the allowed
	// schemas are those the package's tables live in; either way Result.Schemas lists them.
	Schemas []string
	// StageAll sends every table through staging and INSERT … SELECT, even those whose rows would
	// go straight into them (see TableResult.Direct): for comparisons.
	StageAll bool
}

// ErrCommitUnknown marks a restore whose COMMIT was sent but whose reply never came (the
// connection was lost, the deadline reached): the server may have committed it or not. The
// target is either unchanged or completely restored, never in between; running the same restore
// again tells which (it completes the restore, or finds it already done).
var ErrCommitUnknown = errors.New("the commit's outcome is unknown")

// Step names passed to Options.Hook.
const (
	HookStaging       = "staging"        // the transaction is open, staging is about to start
	HookStagedEntry   = "staged-entry"   // one package entry has been staged
	HookMapped        = "mapped"         // every id map is built
	HookPreflight     = "preflight"      // preflight checks are done, nothing written yet
	HookInsertedTable = "inserted-table" // one table's rows are inserted
	HookValidated     = "validated"      // validation passed
	HookCommit        = "commit"         // COMMIT is about to be sent
	HookCommitted     = "committed"      // COMMIT returned
)

// TableResult is what happened to one table.
type TableResult struct {
	Table    string `json:"table"`
	Staged   int64  `json:"staged"`
	Matched  int64  `json:"matched"`
	Inserted int64  `json:"inserted"`
	// Present counts keyless rows found already in the target (a package restored before).
	Present  int64 `json:"present"`
	Diverged int64 `json:"diverged"`
	Updated  int64 `json:"updated"`
	// Replaced counts the rows replace mode removed from the target's table.
	Replaced int64 `json:"replaced,omitempty"`
	// Direct is true when the table's rows were COPYed straight into it (it was empty, its id map
	// keeps every id, and so do the maps of the tables it references — or their references were
	// rewritten in the stream through a seeded table's map held in memory), not staged and
	// inserted.
	Direct  bool            `json:"direct,omitempty"`
	Verdict finding.Verdict `json:"verdict"`
}

// Result describes a restore, successful or not.
type Result struct {
	Tables    []TableResult   `json:"tables"`
	Findings  finding.List    `json:"findings"`
	Checks    []finding.Check `json:"checks"`
	Verdict   finding.Verdict `json:"verdict"`
	Committed bool            `json:"committed"`
	DryRun    bool            `json:"dry_run"`
	Mode      Mode            `json:"mode,omitempty"`
	// Schemas are the schemas the restore writes into (the package's tables' schemas, all within
	// Options.Schemas when that is set), sorted.
	Schemas         []string        `json:"schemas,omitempty"`
	AlreadyRestored bool            `json:"already_restored"`
	PackageDigest   string          `json:"package_digest"`
	RestoredDigest  string          `json:"restored_digest"`
	Phases          []Phase         `json:"phases"`
	Safety          *SafetyResult   `json:"safety_backup,omitempty"`
	Rollback        *RollbackResult `json:"rollback,omitempty"`
	Elapsed         time.Duration   `json:"elapsed_ns"`
}

// Phase is the time one step took.
type Phase struct {
	Name    string        `json:"name"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Run restores the package read from src into the database conn is connected to. It returns the
// result and, when the restore was refused or failed, an error (a *finding.Refused when the
// reason is findings). The target is changed only when the returned error is nil and the result
// says Committed.
func Run(ctx context.Context, conn *pgx.Conn, src io.Reader, opts Options) (*Result, error) {
	return run1(ctx, conn, src, opts, nil)
}

// run1 runs a restore, or a rollback when rb is set.
func run1(ctx context.Context, conn *pgx.Conn, src io.Reader, opts Options, rb *rollbackState) (*Result, error) {
	r := &run{conn: conn, opts: opts, res: &Result{DryRun: opts.DryRun}, start: time.Now(), rollback: rb}
	if r.opts.OnExisting == "" {
		r.opts.OnExisting = Reuse
	}
	if r.opts.Mode == "" {
		r.opts.Mode = Merge
	}
	if _, err := ParseMode(string(r.opts.Mode)); err != nil {
		return r.res, fmt.Errorf("restore: %w", err)
	}
	r.res.Mode = r.opts.Mode
	if r.opts.LockTimeout <= 0 {
		r.opts.LockTimeout = 30 * time.Second
	}
	r.log = opts.Log
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	err := r.do(ctx, src)
	r.res.Elapsed = time.Since(r.start)
	r.res.Findings = r.findings
	if err != nil {
		if r.res.Verdict == "" || r.res.Verdict == finding.Pass {
			r.res.Verdict = finding.Fail
		}
		return r.res, err
	}
	return r.res, nil
}

type run struct {
	conn     *pgx.Conn
	tx       pgx.Tx
	opts     Options
	res      *Result
	log      *slog.Logger
	start    time.Time
	phase    time.Time
	findings finding.List

	target   *schema.Schema
	domains  schema.Domains
	graph    *schema.Graph
	reader   *pack.Reader
	manifest *pack.Manifest
	match    *keys.Plan // plan used to match rows
	tables   []*tableState
	byName   map[string]*tableState
	gmaps    map[string]string // generic FK table -> temp (ct, src, tgt)
	held     []heldConstraint  // foreign keys dropped for the load
	// trustLoad lets checkReferences leave to the load the foreign keys it proves (proven.go);
	// leftToLoad counts those it left, pre where the preflight's findings and checks end.
	trustLoad  bool
	leftToLoad int
	pre        struct{ refsBase, refsEnd, end, checks int }
	// trustIndexes lets precheckStaging leave to the index builds the uniqueness checks they
	// prove (proven.go); leftToIndexes counts those it left, stagedAt where its findings end.
	trustIndexes  bool
	leftToIndexes int
	stagedAt      struct{ base, end, saved, checks int }
	plain         map[string]bool // plainParent's answers by table
	elsewhere     *string         // writesElsewhere's answer before indexes were held (direct.go)
	// heldIndexes are the indexes of tables empty before the load, dropped for it.
	heldIndexes []heldIndex
	version     int        // the target's server_version_num
	spools      []*spooler // the entries being staged, verified (see readAhead)

	rollback *rollbackState // set when the run is a rollback

	safetyW *pack.Writer   // the safety backup being written, or nil
	safetyM *pack.Manifest // its manifest, completed before COMMIT
	// wholeDigests are validation's digests of tables it covered whole (for the safety backup).
	wholeDigests map[string]pack.TableDigest
	// sent hashes the rows of tables that may get a landing proof as they are sent (landing.go).
	sent        map[string]*sentHash
	sentSession *digest.Session // what is a reference while staging (landing.go)
	spill       sentSpill       // what split hashes of rows sent still need (landing.go)
	// predicted is predictedPlan's answer, asked when the tables to load straight in are chosen;
	// heldEntries counts the pairs of every held map (held.go).
	predicted   *keys.Plan
	heldEntries int64
}

// mark ends the phase name; attrs are logged with it.
func (r *run) mark(name string, attrs ...any) {
	now := time.Now()
	if !r.phase.IsZero() {
		r.res.Phases = append(r.res.Phases, Phase{Name: name, Elapsed: now.Sub(r.phase)})
		r.log.Debug("phase done", append([]any{"phase", name, "elapsed", now.Sub(r.phase)}, attrs...)...)
	}
	r.phase = now
}

// hook calls Options.Hook.
func (r *run) hook(ctx context.Context, step string) error {
	if r.opts.Hook == nil {
		return nil
	}
	if err := r.opts.Hook(ctx, step); err != nil {
		return fmt.Errorf("restore: aborted at %s: %w", step, err)
	}
	return nil
}

func (r *run) refuse() error {
	if r.rollback != nil {
		return &finding.Refused{Op: "rollback", Findings: r.findings}
	}
	return &finding.Refused{Op: "restore", Findings: r.findings}
}

// exec runs a statement, turning data errors into findings about table.
func (r *run) exec(ctx context.Context, table, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := r.tx.Exec(ctx, sql, args...)
	if err != nil {
		return tag, r.sqlError(table, err)
	}
	return tag, nil
}

// sqlError converts a server error about data into a finding (and a refusal); other errors
// (connection lost, cancelled) pass through with context.
func (r *run) sqlError(table string, err error) error {
	if f, ok := pgerr.Finding(err, table); ok {
		if st := r.byStaging(f.Table); st != nil {
			f.Table = st.display
		}
		r.findings.Add(f)
		return r.refuse()
	}
	if table != "" {
		return fmt.Errorf("restore %s: %w", table, err)
	}
	return fmt.Errorf("restore: %w", err)
}

func (r *run) byStaging(name string) *tableState {
	for _, t := range r.tables {
		if t.stg == name || t.mapT == name {
			return t
		}
	}
	return nil
}

// do runs the seven steps doc.go numbers, one method each, inside one transaction that is rolled
// back unless step 7 commits it. A step refused by findings returns a *finding.Refused.
func (r *run) do(ctx context.Context, src io.Reader) error {
	rd, err := pack.NewReader(src, r.opts.Limits)
	if err != nil {
		r.findings = append(r.findings, finding.FindingsOf(err)...)
		return err
	}
	defer rd.Close()
	defer r.closeSpool()
	defer r.closeSentSpill()
	r.reader = rd
	if r.tx, err = r.conn.Begin(ctx); err != nil {
		return fmt.Errorf("restore: begin: %w", err)
	}
	defer r.rollbackUnlessCommitted(ctx)
	defer r.abortSafety()
	if err := r.configureSession(ctx); err != nil {
		return err
	}
	if err := r.checkCatalog(ctx); err != nil { // 1
		return err
	}
	done, err := r.stagePackage(ctx) // 2
	if err != nil || done {
		return err
	}
	if err := r.mapCheckLoad(ctx); err != nil { // 3, 4, 5
		return err
	}
	if err := r.verify(ctx); err != nil { // 6
		return err
	}
	if r.opts.DryRun || r.res.AlreadyRestored {
		return nil
	}
	return r.commit(ctx) // 7
}

// rollbackUnlessCommitted ends the transaction of a run that did not commit.
func (r *run) rollbackUnlessCommitted(ctx context.Context) {
	if !r.res.Committed {
		_ = r.tx.Rollback(context.WithoutCancel(ctx))
	}
}

// abortSafety discards a safety backup not committed by closeSafety (Abort is a no-op after
// Close).
func (r *run) abortSafety() {
	if r.safetyW != nil {
		r.safetyW.Abort()
	}
}

// configureSession sets the transaction's lock timeout, digest settings, keepalives and planner
// sample size.
func (r *run) configureSession(ctx context.Context) error {
	if _, err := r.tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", r.opts.LockTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := digest.ApplySettings(ctx, r.tx, true); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// If this client vanishes (a network partition), the server must not keep the transaction and
	// its table locks for hours: its side of the connection probes the client and gives up after
	// about two minutes, and a transaction left idle is ended. Best effort: a server or a pooler
	// that refuses these settings changes nothing else.
	for _, set := range []string{"SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10", "SET tcp_keepalives_count = 9", "SET tcp_user_timeout = 120000"} {
		if _, err := r.tx.Exec(ctx, "SAVEPOINT edmsdr_opt"); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if _, err := r.tx.Exec(ctx, set); err != nil {
			_, _ = r.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT edmsdr_opt")
		}
		if _, err := r.tx.Exec(ctx, "RELEASE SAVEPOINT edmsdr_opt"); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if _, err := r.tx.Exec(ctx, "SET LOCAL idle_in_transaction_session_timeout = '15min'"); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Statistics of the temporary tables only steer join strategies: a small sample is enough.
	if _, err := r.tx.Exec(ctx, "SET LOCAL default_statistics_target = 10"); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// checkCatalog is step 1: it reads the target's catalog (refusing servers older than
// MinServerVersion) and checks the package's tables and columns against it.
func (r *run) checkCatalog(ctx context.Context) error {
	version, err := introspect.ServerVersion(ctx, r.tx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.version = version
	if version < MinServerVersion {
		r.findings.Add(finding.Finding{Kind: finding.Unsupported, Message: fmt.Sprintf(
			"the target runs PostgreSQL %d.%d; restore needs %d or newer (it relies on pg_current_xact_id and xid8, added in 13)",
			version/10000, version%10000, MinServerVersion/10000)})
		return r.refuse()
	}
	r.target, err = introspect.Read(ctx, r.tx, introspect.Options{UsableOnly: true})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// An enabled event trigger runs its function on the restore's own DDL (the constraints and
	// indexes held for the load and added back, the digest's temporary tables, the sequences moved
	// after validation, the views dropped before commit): it may change restored rows after they
	// were validated, unseen by any check (TestAttackEventTriggerAfterValidation). Whatever it
	// does, the restore could not vouch for what it commits. (A login event trigger runs only
	// when a session opens: not on anything the restore does.)
	var events string
	if err := r.tx.QueryRow(ctx, `SELECT coalesce(string_agg(quote_ident(evtname), ', ' ORDER BY evtname), '') FROM pg_event_trigger WHERE evtenabled <> 'D' AND evtevent <> 'login'`).Scan(&events); err != nil {
		return r.sqlError("", fmt.Errorf("read event triggers: %w", err))
	}
	if events != "" {
		r.findings.Add(finding.Finding{Kind: finding.Unsupported, Message: fmt.Sprintf(
			"the target database has enabled event triggers (%s): they run on the restore's own DDL, some of it after the restored rows are validated, and could change them unseen; disable them for the restore (ALTER EVENT TRIGGER … DISABLE) and enable them again after it", events)})
		return r.refuse()
	}
	var dfs finding.List
	r.domains, dfs = schema.ComputeDomains(r.target)
	r.findings = append(r.findings, dfs...)
	r.graph = schema.BuildGraph(r.target)
	r.mark("")
	r.prepareLayout()
	if r.findings.HasErrors() {
		return r.refuse()
	}
	return nil
}

// stagePackage is step 2: it locks the target's tables, stages every entry, checks the manifest
// and the staged rows, writes the safety backup and, in replace mode, empties the targets. done
// says a rollback found its work already done (nothing more to do, nothing to commit).
func (r *run) stagePackage(ctx context.Context) (done bool, err error) {
	if err := r.lockTargets(ctx); err != nil {
		return false, err
	}
	if err := r.hook(ctx, HookStaging); err != nil {
		return false, err
	}
	if err := r.readTargetRows(ctx); err != nil {
		return false, err
	}
	if err := r.chooseDirect(ctx); err != nil {
		return false, err
	}
	if err := r.stage(ctx); err != nil {
		return false, err
	}
	if err := r.authenticate(); err != nil {
		return false, err
	}
	r.mark("stage")
	if err := r.checkManifest(); err != nil {
		return false, err
	}
	if r.findings.HasErrors() {
		return false, r.refuse()
	}
	if err := r.confirmDirect(ctx); err != nil {
		return false, err
	}
	// Uniqueness checks the index builds after the load prove are left to them (proven.go).
	r.trustIndexes = !r.opts.KeepConstraints
	r.stagedAt.base = len(r.findings)
	if err := r.precheckStaging(ctx); err != nil {
		return false, err
	}
	r.stagedAt.end = len(r.findings)
	if r.replacing() {
		r.checkReplace()
	}
	if r.findings.HasErrors() {
		if err := r.redoStaging(ctx); err != nil {
			return false, err
		}
		return false, r.refuse()
	}
	if done, err := r.rolledBackAlready(ctx); err != nil || done {
		return done, err
	}
	if err := r.writeSafety(ctx); err != nil {
		return false, err
	}
	if r.replacing() {
		if err := r.emptyTargets(ctx); err != nil {
			return false, err
		}
	}
	return false, nil
}

// rolledBackAlready says whether a rollback finds the target already as it was before the
// restore (then the run passes with nothing to do).
func (r *run) rolledBackAlready(ctx context.Context) (bool, error) {
	if r.rollback == nil {
		return false, nil
	}
	done, err := r.checkRollback(ctx)
	if err != nil || !done {
		return false, err
	}
	r.res.AlreadyRestored = true
	r.res.Verdict = finding.Pass
	r.tableVerdicts()
	return true, nil
}

// mapIDs is step 3: an id map per table, in dependency order.
func (r *run) mapIDs(ctx context.Context) error {
	if err := r.buildMaps(ctx); err != nil {
		return err
	}
	r.mark("map")
	return r.hook(ctx, HookMapped)
}

// preflight is step 4: every check that needs the maps, all findings collected before anything
// is written.
// The reference checks the load proves are left to it (proven.go): run in full only when the
// restore is refused.
func (r *run) preflight(ctx context.Context) error {
	r.trustLoad = !r.opts.KeepConstraints
	r.pre.refsBase = len(r.findings)
	if err := r.checkReferences(ctx); err != nil {
		return err
	}
	r.pre.refsEnd = len(r.findings)
	for _, check := range []func(context.Context) error{
		r.checkDiverged, r.checkKeyless, r.checkConflicts, r.checkGenerated, r.checkSharedIDs,
	} {
		if err := check(ctx); err != nil {
			return err
		}
	}
	r.mark("preflight", "left_to_load", r.leftToLoad)
	if r.findings.HasErrors() {
		if err := r.redoReferences(ctx, r.pre.refsBase, r.pre.refsEnd); err != nil {
			return err
		}
		return r.refuse()
	}
	r.pre.end, r.pre.checks = len(r.findings), len(r.res.Checks)
	return r.hook(ctx, HookPreflight)
}

// load is step 5: it inserts every table's rows, builds the indexes dropped for the load, updates
// diverged rows and puts the held foreign keys back — or notes that the package is already in
// the target.
func (r *run) load(ctx context.Context) error {
	if r.nothingToDo() {
		r.res.AlreadyRestored = true
		r.findings.Add(finding.Finding{Kind: finding.AlreadyRestored, Severity: finding.Info,
			Message: "every row of the package is already in the target: nothing to restore"})
		return nil
	}
	if r.leftToLoad == 0 {
		return r.loadRows(ctx)
	}
	// Reference checks were left to the load: if it fails, they say why (diagnoseLoad).
	if _, err := r.tx.Exec(ctx, "SAVEPOINT "+loadSavepoint); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := r.loadRows(ctx); err != nil {
		return r.diagnoseLoad(ctx, err)
	}
	if _, err := r.tx.Exec(ctx, "RELEASE SAVEPOINT "+loadSavepoint); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// loadRows is the load itself.
func (r *run) loadRows(ctx context.Context) error {
	if err := r.insertAll(ctx); err != nil {
		return err
	}
	// direct: the tables whose rows went straight into them while staging (direct.go).
	r.mark("insert", "direct", r.directNames())
	if err := r.buildIndexes(ctx); err != nil {
		return err
	}
	r.mark("index")
	if err := r.updateDiverged(ctx); err != nil {
		return err
	}
	// After diverged rows were updated: the held foreign keys go back, validated set-based.
	return r.restoreForeignKeys(ctx)
}

// verify is step 6: it validates the restored rows, moves the sequences (a rollback sets them
// back) and checks them, then writes the id map.
func (r *run) verify(ctx context.Context) error {
	if err := r.validate(ctx); err != nil {
		return err
	}
	if r.res.Verdict != finding.Pass {
		r.mark("validate")
		return r.refuse()
	}
	// Sequences are not transactional: they move only once everything else has passed, and
	// never in a dry run (which only checks where they would go).
	move := !r.opts.DryRun && !r.res.AlreadyRestored
	if err := r.placeSequences(ctx, move); err != nil {
		return err
	}
	sv, err := r.checkSequences(ctx, move || r.res.AlreadyRestored)
	if err != nil {
		return err
	}
	r.res.Verdict = finding.Combine(append(sv, r.res.Verdict)...)
	r.tableVerdicts()
	r.mark("validate")
	if r.res.Verdict != finding.Pass {
		return r.refuse()
	}
	if err := r.hook(ctx, HookValidated); err != nil {
		return err
	}
	if r.opts.IDMap != nil {
		return r.writeIDMap(ctx, r.opts.IDMap)
	}
	return nil
}

// placeSequences moves the sequences past every id when move is set; a rollback first compares
// the ids with the restore's and sets the sequences back where they stood before it.
func (r *run) placeSequences(ctx context.Context, move bool) error {
	if r.rollback == nil {
		if move {
			return r.moveSequences(ctx)
		}
		return nil
	}
	iv, err := r.compareIDs(ctx)
	if err != nil {
		return err
	}
	r.res.Verdict = finding.Combine(append(iv, r.res.Verdict)...)
	if r.res.Verdict != finding.Pass {
		r.tableVerdicts()
		r.mark("validate")
		return r.refuse()
	}
	// Back where they stood before the restore (a dry run checks the current positions).
	if move {
		return r.setSequences(ctx)
	}
	return nil
}

// commit is step 7: it completes the safety backup and commits. A lost reply is
// ErrCommitUnknown.
func (r *run) commit(ctx context.Context) error {
	if err := r.dropDirectViews(ctx); err != nil {
		return err
	}
	if err := r.closeSafety(ctx); err != nil {
		return err
	}
	if err := r.hook(ctx, HookCommit); err != nil {
		return err
	}
	if err := r.tx.Commit(ctx); err != nil {
		if f, ok := pgerr.Finding(err, ""); ok {
			r.findings.Add(f)
			return r.refuse()
		}
		// Only the server's answer tells; pgconn.SafeToRetry does not (a connection lost while
		// reading COMMIT's reply comes back as "conn closed", marked safe to retry).
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) && !errors.Is(err, pgx.ErrTxCommitRollback) {
			return fmt.Errorf("restore: commit: %w: %w", ErrCommitUnknown, err)
		}
		return fmt.Errorf("restore: commit: %w", err)
	}
	r.res.Committed = true
	r.mark("commit")
	return r.hook(ctx, HookCommitted)
}

func (r *run) lockTargets(ctx context.Context) error {
	if len(r.tables) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.tables))
	for _, t := range r.tables {
		names = append(names, pgquote.Table(t.qname))
	}
	if _, err := r.tx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN "+r.lockMode()+" MODE"); err != nil {
		if pgerr.Code(err) == "55P03" {
			return fmt.Errorf("restore: the target's tables are locked by another session (waited %s): %w", r.opts.LockTimeout, err)
		}
		return r.sqlError("", err)
	}
	return nil
}

// authenticate runs Options.Authenticate on the manifest just read.
func (r *run) authenticate() error {
	if r.opts.Authenticate == nil {
		return nil
	}
	if err := r.opts.Authenticate(r.reader.ManifestBytes(), r.reader.Signature()); err != nil {
		if fl := finding.FindingsOf(err); fl != nil {
			r.findings = append(r.findings, fl...)
			return r.refuse()
		}
		return fmt.Errorf("restore: authenticate package: %w", err)
	}
	return nil
}

func (r *run) nothingToDo() bool {
	if r.replacedAny() {
		return false
	}
	for _, t := range r.tables {
		if t.toInsert() > 0 {
			return false
		}
		if t.diverged > 0 && r.opts.OnExisting == Update {
			return false
		}
	}
	return true
}

func (r *run) writeIDMap(ctx context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, "table\tsource_id\ttarget_id\tstatus\n"); err != nil {
		return fmt.Errorf("write id map: %w", err)
	}
	for _, t := range r.tables {
		if t.mapT == "" {
			continue
		}
		sql := fmt.Sprintf("COPY (SELECT %s, src, tgt, CASE WHEN ref THEN 'reference' WHEN matched THEN 'matched' ELSE 'inserted' END FROM %s ORDER BY src) TO STDOUT",
			pgquote.Literal(t.display), t.mapT)
		if _, err := r.tx.Conn().PgConn().CopyTo(ctx, w, sql); err != nil {
			return fmt.Errorf("write id map of %s: %w", t.display, err)
		}
	}
	return nil
}
