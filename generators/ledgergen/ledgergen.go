// Package ledgergen generates synthetic data for the ledger test schema (fixtures/ledger),
// deterministic by seed, and loads it with COPY into a database that holds the schema and its
// seeded rows, which it references and never changes. The data walks every shape the schema
// has: the member/team cycle (members first with team NULL, then teams, then UPDATE), a member
// who manages himself, slugs repeated across teams, composite-key memberships, an account tree
// with codes repeated under different parents, explicit values in the identity column, bigint
// amounts beyond 32 bits, uuids, Unicode keys, and byte-identical rows in the keyless event log.
package ledgergen

import (
	"context"
	"fmt"
	"time"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/edmsdr/edmsdr/fixtures/ledger"
	"github.com/edmsdr/edmsdr/generators/gen"
	"github.com/jackc/pgx/v5"
)

// Stats counts the generated rows per table.
type Stats = gen.Stats

// MinMembers and MaxMembers bound Generate's scale.
const (
	MinMembers = 8
	MaxMembers = 10_000_000
)

// DuplicateEvents is how many byte-identical copies of one event (and of one all-NULL event)
// the event log gets.
const DuplicateEvents = 5

var epoch = time.Date(2022, time.January, 1, 0, 0, 0, 0, time.UTC)

var (
	handleStems = []string{"Αλέξανδρος", "Ελένη", "Дмитрий", "Анна", "יעל", "أحمد", "さくら", "민준", "🦊fox", "👩‍🚀astro", "Zoe\u0308", "ola"}
	teamStems   = []string{"Ομάδα", "Команда", "צוות", "فريق", "チーム", "🚀 Squad", "Team"}
	slugs       = []string{"alpha", "beta", "launch", "migration", "audit-2024", "ευρώ", "переезд", "🚀"}
	roles       = []string{"owner", "maintainer", "contributor", "viewer"}
	kinds       = []string{"login", "logout", "transfer.booked", "project.created", "member.moved"}
	oddTexts    = []string{`\N`, "tab\there", "line\nbreak", `C:\new\table`, "", "Ελληνικά · Русский · 日本語 · 👨‍👩‍👧‍👦"}
)

// oddDetail is event detail JSON with awkward keys and values.
const oddDetail = `{"": "empty key", "quo\"te": "\\N", "ключ": [1, [2, [3, null]]], "big": 98765432109876543210.125}`

type generator struct {
	f *gofakeit.Faker
	n int
	l *gen.Loader

	currencies []string
	regions    []string
	rootID     int64 // seeded member
	seedTeam   int32
	accountIDs []int64 // seeded and generated

	memberStart int64
	teamStart   int32
	teamLeads   []int64
	projects    []int32 // project ids
}

// Generate loads a data set of n members (teams, projects, accounts, transfers and events
// derived from n) generated from seed, in one transaction. The database must hold the ledger
// schema and ledger.Seed's rows.
func Generate(ctx context.Context, conn *pgx.Conn, seed int64, n int) (Stats, error) {
	if n < MinMembers || n > MaxMembers {
		return Stats{}, fmt.Errorf("generate ledger data: %d members out of range %d..%d", n, MinMembers, MaxMembers)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("generate ledger data: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	g := &generator{f: gen.NewFaker(seed), n: n, l: gen.NewLoader(tx)}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"seeded rows", g.lookupSeeded},
		{"members", g.members},
		{"teams", g.teams},
		{"team assignments", g.assignTeams},
		{"projects", g.loadProjects},
		{"memberships", g.memberships},
		{"accounts", g.accounts},
		{"transfers", g.transfers},
		{"events", g.events},
		{"sequences", g.syncSequences},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return Stats{}, fmt.Errorf("generate ledger data (seed %d, %d members): %s: %w", seed, n, s.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Stats{}, fmt.Errorf("generate ledger data (seed %d, %d members): commit: %w", seed, n, err)
	}
	return g.l.Stats(), nil
}

func (g *generator) lookupSeeded(ctx context.Context) error {
	tx := g.l.Tx()
	var err error
	if g.currencies, err = queryStrings(ctx, tx, `SELECT code FROM currency ORDER BY code`); err != nil {
		return err
	}
	if g.regions, err = queryStrings(ctx, tx, `SELECT name FROM region ORDER BY name`); err != nil {
		return err
	}
	if len(g.currencies) == 0 || len(g.regions) == 0 {
		return fmt.Errorf("no currencies or regions: seed the database with ledger.Seed first")
	}
	if err := tx.QueryRow(ctx, `SELECT m.id, t.id FROM member m JOIN team t ON t.lead_id = m.id
		WHERE m.handle = $1 AND t.name = $2`, ledger.SeedMemberHandle, ledger.SeedTeamName).Scan(&g.rootID, &g.seedTeam); err != nil {
		return fmt.Errorf("read seeded member %s and team %s (seed the database with ledger.Seed first): %w",
			ledger.SeedMemberHandle, ledger.SeedTeamName, err)
	}
	rows, err := tx.Query(ctx, `SELECT a.id FROM account a LEFT JOIN account p ON p.id = a.parent_id
		ORDER BY p.code NULLS FIRST, a.code`)
	if err != nil {
		return fmt.Errorf("read seeded accounts: %w", err)
	}
	g.accountIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("read seeded accounts: %w", err)
	}
	if len(g.accountIDs) < 2 {
		return fmt.Errorf("seeded accounts missing: seed the database with ledger.Seed first")
	}
	return nil
}

func queryStrings(ctx context.Context, tx pgx.Tx, q string) ([]string, error) {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	return out, nil
}

func pick[T any](g *generator, xs []T) T { return xs[g.f.IntN(len(xs))] }

func (g *generator) pct(p int) bool { return g.f.IntN(100) < p }

func (g *generator) uuid() [16]byte {
	var u [16]byte
	a, b := g.f.Uint64(), g.f.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func (g *generator) when() time.Time {
	return epoch.Add(time.Duration(g.f.IntN(3*365*24*3600))*time.Second +
		time.Duration(g.f.IntN(1_000_000))*time.Microsecond)
}

// text returns a short random text, sometimes one of the awkward ones, sometimes NULL.
func (g *generator) text(nullPct int) any {
	switch r := g.f.IntN(100); {
	case r < nullPct:
		return nil
	case r < nullPct+8:
		return pick(g, oddTexts)
	default:
		return g.f.HipsterSentence()
	}
}

// members writes n members with team_id NULL; member 0 manages himself, the others report to
// the seeded member or an earlier member, or to nobody.
func (g *generator) members(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "member", "id")
	if err != nil {
		return err
	}
	g.memberStart = start
	cols := []string{"id", "handle", "display_name", "external_ref", "region", "team_id", "manager_id", "joined_on"}
	return g.l.Copy(ctx, "member", cols, g.n, func(i int) ([]any, error) {
		id := start + int64(i)
		handle := fmt.Sprintf("%s.%d", pick(g, handleStems), i)
		switch i {
		case 1:
			handle = `\N`
		case 2:
			handle = "tab\thandle"
		}
		var region any
		if !g.pct(20) {
			region = pick(g, g.regions)
		}
		var manager any
		switch r := g.f.IntN(100); {
		case i == 0:
			manager = id
		case r < 20:
			manager = nil
		case r < 30:
			manager = g.rootID
		default:
			manager = start + int64(g.f.IntN(i))
		}
		joined := g.when()
		joined = time.Date(joined.Year(), joined.Month(), joined.Day(), 0, 0, 0, 0, time.UTC)
		return []any{id, handle, g.f.Name(), g.uuid(), region, nil, manager, joined}, nil
	})
}

// teams writes n/8 teams (at least 2), each led by a generated member.
func (g *generator) teams(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "team", "id")
	if err != nil {
		return err
	}
	g.teamStart = int32(start)
	k := max(2, g.n/8)
	g.teamLeads = make([]int64, k)
	return g.l.Copy(ctx, "team", []string{"id", "name", "lead_id"}, k, func(i int) ([]any, error) {
		g.teamLeads[i] = g.memberStart + int64(g.f.IntN(g.n))
		return []any{int32(start) + int32(i), fmt.Sprintf("%s %d", pick(g, teamStems), i), g.teamLeads[i]}, nil
	})
}

// assignTeams closes the cycle: every lead joins the team they lead, most other generated
// members join a random team (the seeded one included), the rest stay without a team.
func (g *generator) assignTeams(ctx context.Context) error {
	team := make([]any, g.n)
	for i := range team {
		switch r := g.f.IntN(100); {
		case r < 15:
			team[i] = nil
		case r < 25:
			team[i] = g.seedTeam
		default:
			team[i] = g.teamStart + int32(g.f.IntN(len(g.teamLeads)))
		}
	}
	for t, lead := range g.teamLeads {
		team[lead-g.memberStart] = g.teamStart + int32(t)
	}
	ids := make([]int64, g.n)
	teams := make([]*int32, g.n)
	for i := range ids {
		ids[i] = g.memberStart + int64(i)
		if v, ok := team[i].(int32); ok {
			teams[i] = &v
		}
	}
	tag, err := g.l.Tx().Exec(ctx, `UPDATE member m SET team_id = u.team_id
		FROM unnest($1::bigint[], $2::integer[]) AS u(id, team_id) WHERE m.id = u.id`, ids, teams)
	if err != nil {
		return fmt.Errorf("update member.team_id: %w", err)
	}
	if tag.RowsAffected() != int64(g.n) {
		return fmt.Errorf("update member.team_id: %d rows updated, %d expected", tag.RowsAffected(), g.n)
	}
	return nil
}

// loadProjects gives every generated team one to three projects, slugs repeating across teams.
func (g *generator) loadProjects(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "project", "id")
	if err != nil {
		return err
	}
	type plan struct {
		team int32
		slug string
	}
	var plans []plan
	for t := range g.teamLeads {
		for _, s := range g.distinct(len(slugs), 1+g.f.IntN(3)) {
			plans = append(plans, plan{team: g.teamStart + int32(t), slug: slugs[s]})
		}
	}
	for i := range plans {
		g.projects = append(g.projects, int32(start)+int32(i))
	}
	cols := []string{"id", "team_id", "slug", "title", "budget", "currency"}
	return g.l.Copy(ctx, "project", cols, len(plans), func(i int) ([]any, error) {
		budget := int64(g.f.IntN(1_000_000)) * 100
		if g.pct(20) {
			budget = int64(g.f.Uint64() >> 12) // beyond 32 bits, within bigint
		}
		title := g.f.AppName()
		if g.pct(20) {
			title = pick(g, oddTexts) + " " + title
		}
		return []any{int32(start) + int32(i), plans[i].team, plans[i].slug, title, budget, pick(g, g.currencies)}, nil
	})
}

// distinct returns k distinct indexes below n.
func (g *generator) distinct(n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k && i < n; i++ {
		j := i + g.f.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:min(k, n)]
}

// memberships puts each generated member into zero to three projects (composite primary key).
func (g *generator) memberships(ctx context.Context) error {
	type pair struct {
		member  int64
		project int32
	}
	var pairs []pair
	for i := range g.n {
		for _, p := range g.distinct(len(g.projects), g.f.IntN(4)) {
			pairs = append(pairs, pair{g.memberStart + int64(i), g.projects[p]})
		}
	}
	cols := []string{"member_id", "project_id", "role", "since"}
	return g.l.Copy(ctx, "membership", cols, len(pairs), func(i int) ([]any, error) {
		return []any{pairs[i].member, pairs[i].project, pick(g, roles), g.when()}, nil
	})
}

// accounts grows the chart of accounts under the seeded roots and a few generated roots, with
// explicit ids in the GENERATED ALWAYS identity column; codes repeat under different parents.
func (g *generator) accounts(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "account", "id")
	if err != nil {
		return err
	}
	k := max(20, g.n/2)
	type plan struct {
		parent any
		code   string
	}
	plans := make([]plan, k)
	taken := map[string]bool{}
	for i := range plans {
		var parent any
		key := "root"
		if i%50 != 7 { // a generated root now and then
			p := g.accountIDs[g.f.IntN(len(g.accountIDs))]
			parent, key = p, fmt.Sprint(p)
		}
		code := fmt.Sprint(100 * (1 + g.f.IntN(9))) // seeded codes have one or two digits
		if parent == nil {
			code = fmt.Sprintf("R%d", i)
		}
		for n := 1; taken[key+"/"+code]; n++ {
			code = fmt.Sprintf("%s.%d", code, n)
		}
		taken[key+"/"+code] = true
		plans[i] = plan{parent: parent, code: code}
		g.accountIDs = append(g.accountIDs, start+int64(i))
	}
	cols := []string{"id", "parent_id", "code", "name", "currency"}
	err = g.l.Copy(ctx, "account", cols, k, func(i int) ([]any, error) {
		name := g.f.BuzzWord() + " " + g.f.NounAbstract()
		if g.pct(15) {
			name = pick(g, handleStems) + " " + name
		}
		return []any{start + int64(i), plans[i].parent, plans[i].code, name, pick(g, g.currencies)}, nil
	})
	return err
}

// transfers books 5n transfers between distinct accounts.
func (g *generator) transfers(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "transfer", "id")
	if err != nil {
		return err
	}
	cols := []string{"id", "ref", "project_id", "debit_id", "credit_id", "amount", "currency", "memo", "booked_at"}
	return g.l.Copy(ctx, "transfer", cols, 5*g.n, func(i int) ([]any, error) {
		debit := pick(g, g.accountIDs)
		credit := pick(g, g.accountIDs)
		for credit == debit {
			credit = pick(g, g.accountIDs)
		}
		var project any
		if !g.pct(30) {
			project = pick(g, g.projects)
		}
		amount := 1 + int64(g.f.IntN(100_000))
		switch r := g.f.IntN(100); {
		case r < 5:
			amount = 1
		case r < 10:
			amount = 1 + int64(g.f.Uint64()>>11) // up to 2^53
		}
		return []any{start + int64(i), g.uuid(), project, debit, credit, amount, pick(g, g.currencies), g.text(15), g.when()}, nil
	})
}

// events writes 3n log rows, then DuplicateEvents identical copies of one full row and of one
// all-NULL row.
func (g *generator) events(ctx context.Context) error {
	n := 3 * g.n
	dupAt := time.Date(2023, time.March, 26, 1, 30, 0, 0, time.FixedZone("Europe/Moscow", 3*3600))
	cols := []string{"at", "member_id", "kind", "detail"}
	return g.l.Copy(ctx, "event_log", cols, n+2*DuplicateEvents, func(i int) ([]any, error) {
		switch {
		case i >= n+DuplicateEvents:
			return []any{dupAt, nil, "heartbeat", nil}, nil
		case i >= n:
			return []any{dupAt, g.rootID, "login", oddDetail}, nil
		}
		var member any
		if !g.pct(10) {
			member = g.memberStart + int64(g.f.IntN(g.n))
		}
		var detail any
		switch r := g.f.IntN(100); {
		case r < 30:
			detail = nil
		case r < 33:
			detail = "null"
		case r < 36:
			detail = oddDetail
		default:
			detail = fmt.Sprintf(`{"n": %d, "ok": %t}`, g.f.IntN(1000), g.pct(50))
		}
		return []any{g.when(), member, pick(g, kinds), detail}, nil
	})
}

func (g *generator) syncSequences(ctx context.Context) error {
	for _, t := range []string{"member", "team", "project", "account", "transfer"} {
		if err := g.l.SyncSequence(ctx, t, "id"); err != nil {
			return err
		}
	}
	return nil
}
