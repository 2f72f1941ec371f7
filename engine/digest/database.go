package digest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// DatabaseOptions say what OfDatabase digests.
type DatabaseOptions struct {
	// Keys is the keys file (natural keys, generic foreign keys, exclusions); nil infers all.
	Keys *keys.File
	// Schemas limits the digest to these schemas.
	Schemas []string
	// Ordered also computes, for every keyless table with a surrogate id, a fingerprint of its
	// rows in id order (the order a restore must keep).
	Ordered bool
}

// Database is the digest of a whole database.
type Database struct {
	Summary pack.Digest
	// Order maps keyless tables to the fingerprint of their rows in id order (with Ordered).
	Order map[string]string
}

// OfDatabase digests the database conn is connected to, in one REPEATABLE READ transaction that
// it rolls back (its temporary tables go with it).
func OfDatabase(ctx context.Context, conn *pgx.Conn, opts DatabaseOptions) (*Database, error) {
	kf := opts.Keys
	if kf == nil {
		kf = &keys.File{}
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // temp tables only
	if err := ApplySettings(ctx, tx, true); err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	sch, err := introspect.Read(ctx, tx, introspect.Options{Schemas: opts.Schemas, Exclude: kf.Excluded()})
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	plan, err := keys.Build(sch, kf)
	if err != nil {
		return nil, fmt.Errorf("digest: key plan: %w", err)
	}
	ds, err := NewSession(tx, sch, plan, Options{})
	if err != nil {
		return nil, err
	}
	// Tables are hashed in SQL; one with a row too large for the server to hash (a bytea of about
	// 512 MiB or more) on the client, its large values read in slices (TableLarge).
	why, err := StreamCheck(ctx, tx)
	if err != nil {
		return nil, err
	}
	tables := map[string]pack.TableDigest{}
	for _, t := range sch.Tables {
		td, err := ds.TableLarge(ctx, tx.Conn().PgConn(), t.QName(), why == "")
		if err != nil {
			return nil, err
		}
		tables[t.QName()] = td
	}
	out := &Database{Summary: pack.NewDigest(tables)}
	if opts.Ordered {
		out.Order = map[string]string{}
		for _, t := range sch.Tables {
			if plan.Keyed(t.QName()) || t.SurrogateID() == "" {
				continue
			}
			fp, err := ds.Ordered(ctx, t.QName())
			if err != nil {
				return nil, err
			}
			out.Order[t.QName()] = fp
		}
	}
	return out, nil
}

// Ordered fingerprints the rows of qname in the order of its surrogate id: equal fingerprints
// mean the same rows in the same relative order, whatever the ids.
func (d *Session) Ordered(ctx context.Context, qname string) (string, error) {
	t, err := d.table(qname)
	if err != nil {
		return "", err
	}
	sid := t.SurrogateID()
	if sid == "" {
		return "", fmt.Errorf("digest: %s has no id to order by", t.Display())
	}
	ex, joins, err := d.exprs(ctx, t, "t", d.contentColumns(t), nil)
	if err != nil {
		return "", err
	}
	var fp string
	sql := fmt.Sprintf("SELECT md5(coalesce(string_agg(%s, ',' ORDER BY t.%s), ''))::text FROM %s t %s",
		rowHash(ex), pgquote.Ident(sid), d.from(qname), strings.Join(joins, " "))
	if err := d.q.QueryRow(ctx, sql).Scan(&fp); err != nil {
		return "", fmt.Errorf("digest %s: order: %w", t.Display(), err)
	}
	return fp, nil
}
