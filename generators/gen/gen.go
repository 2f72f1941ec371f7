// Package gen holds what every data generator under generators/ shares: a faker seeded so that
// one seed always yields the same data, row-count Stats, and a Loader that streams generated rows
// into PostgreSQL with COPY, hands out id blocks and moves sequences past them.
package gen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/jackc/pgx/v5"
)

// pcgStream is the second PCG word; fixed so that the seed alone decides the sequence.
const pcgStream = 0x65646d7364722d67 // "edmsdr-g"

// NewFaker returns a faker whose output depends only on seed. Unlike gofakeit.New, seed 0 is not
// replaced by a random seed. The faker is not safe for concurrent use.
func NewFaker(seed int64) *gofakeit.Faker {
	return gofakeit.NewFaker(rand.NewPCG(uint64(seed), pcgStream), false)
}

// CloneFaker returns a faker that draws, from here on, exactly what f draws from here on, without
// moving f. A generator replays a stretch of its draws with it instead of holding what the
// stretch produced: memory that does not grow with the data. f must come from NewFaker.
func CloneFaker(f *gofakeit.Faker) (*gofakeit.Faker, error) {
	pcg, ok := f.Rand.(*rand.PCG)
	if !ok {
		return nil, fmt.Errorf("clone faker: source is %T, not the *rand.PCG of NewFaker", f.Rand)
	}
	c := *pcg
	return gofakeit.NewFaker(&c, false), nil
}

// Stats counts the rows a generator inserted, per table.
type Stats struct {
	Rows map[string]int64
}

// Total returns the number of rows inserted over all tables.
func (s Stats) Total() int64 {
	var n int64
	for _, c := range s.Rows {
		n += c
	}
	return n
}

// Tables returns the names of the tables with a count, sorted.
func (s Stats) Tables() []string {
	names := make([]string, 0, len(s.Rows))
	for t := range s.Rows {
		names = append(names, t)
	}
	slices.Sort(names)
	return names
}

// String formats the counts one table a line, sorted, with the total last.
func (s Stats) String() string {
	var b strings.Builder
	for _, t := range s.Tables() {
		fmt.Fprintf(&b, "%-28s %10d\n", t, s.Rows[t])
	}
	fmt.Fprintf(&b, "%-28s %10d\n", "total", s.Total())
	return b.String()
}

// Loader writes generated rows inside one transaction and counts them.
type Loader struct {
	tx    pgx.Tx
	stats Stats
	// probe, when set, is called every probeEvery rows (Probe).
	probe      func()
	probeEvery int
	rows       int
}

// NewLoader returns a Loader writing through tx.
func NewLoader(tx pgx.Tx) *Loader {
	return &Loader{tx: tx, stats: Stats{Rows: map[string]int64{}}}
}

// Tx returns the transaction the Loader writes through.
func (l *Loader) Tx() pgx.Tx { return l.tx }

// Stats returns a copy of the counts so far.
func (l *Loader) Stats() Stats {
	out := Stats{Rows: make(map[string]int64, len(l.stats.Rows))}
	for t, n := range l.stats.Rows {
		out.Rows[t] = n
	}
	return out
}

// Probe has f called every `every` rows that Copy and CopyStream produce, between two rows: a
// test measures there what a generator holds while it writes. every < 1 or f nil turns it off.
func (l *Loader) Probe(every int, f func()) {
	l.probe, l.probeEvery = f, every
	if every < 1 {
		l.probe = nil
	}
}

// probed is the row count's tick: it calls the probe every probeEvery rows.
func (l *Loader) probed() {
	if l.probe == nil {
		return
	}
	if l.rows++; l.rows%l.probeEvery == 0 {
		l.probe()
	}
}

// Copy streams n rows into table with COPY; row(i) returns row i's values in columns order.
// Rows are produced one at a time, in order, so row may draw from a shared faker.
func (l *Loader) Copy(ctx context.Context, table string, columns []string, n int, row func(i int) ([]any, error)) error {
	got, err := l.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		l.probed()
		return row(i)
	}))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	if got != int64(n) {
		return fmt.Errorf("copy into %s: %d rows written, %d expected", table, got, n)
	}
	l.stats.Rows[table] += got
	return nil
}

// CopyStream streams rows into table with COPY until next returns a nil row; next returns each
// row's values in columns order, one at a time, in order, so it may draw from a shared faker.
// Unlike Copy it needs no count up front: the caller holds no plan of the rows.
func (l *Loader) CopyStream(ctx context.Context, table string, columns []string, next func() ([]any, error)) error {
	got, err := l.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
		l.probed()
		return next()
	}))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	l.stats.Rows[table] += got
	return nil
}

// NextID returns the next value of the sequence behind table.column (serial or identity): the
// first id of a block the caller assigns itself. Call SyncSequence once the block is written.
func (l *Loader) NextID(ctx context.Context, table, column string) (int64, error) {
	var id int64
	err := l.tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence($1, $2))`,
		pgx.Identifier{table}.Sanitize(), column).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("next id of %s.%s: %w", table, column, err)
	}
	return id, nil
}

// SyncSequence moves the sequence behind table.column to the highest value in that column, if
// that is past the sequence's last value, so that later inserts without ids cannot collide.
func (l *Loader) SyncSequence(ctx context.Context, table, column string) error {
	q := fmt.Sprintf(`SELECT setval(seq, greatest(m, last))
		FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq) s,
		     LATERAL (SELECT max(%s) AS m FROM %s) mx,
		     LATERAL (SELECT COALESCE(last_value, 1) AS last FROM pg_sequences
		              WHERE format('%%I.%%I', schemaname, sequencename)::regclass = s.seq) l
		WHERE m IS NOT NULL`,
		pgx.Identifier{column}.Sanitize(), pgx.Identifier{table}.Sanitize())
	if _, err := l.tx.Exec(ctx, q, pgx.Identifier{table}.Sanitize(), column); err != nil {
		return fmt.Errorf("sync sequence of %s.%s: %w", table, column, err)
	}
	return nil
}
