// Package restore reconciles a package into a target database inside one transaction, set-based
// in PostgreSQL:
//
//  1. check the package's tables and columns against the target's catalog;
//  2. stream every entry into a temporary staging table (COPY FROM STDIN), verifying checksums
//     — or, for a table empty before the restore whose id map will be the identity and whose
//     references point only at such tables, straight into the table itself (its foreign keys and
//     indexes held, each entry in a savepoint, its staging name a view over it; a refused entry
//     or a package plan that needs a map sends the table back to staging: direct.go); such a
//     table whose references point at a seeded table (one the target had rows in) loads
//     straight in too, its references rewritten in the stream through that table's id map,
//     built when its first entry arrives (the seeded table's entries all staged) and held in
//     memory within a budget; a value the map lacks sends the table back to staging (held.go);
//     a large value entry (format 2) is written into its staged row server-side, through a
//     large object filled in 16 MiB pieces (stageLarge); a package holding one loads every
//     table through staging;
//     in replace mode (Options.Mode) every package table is then emptied by TRUNCATE inside the
//     transaction (a later refusal undoes it), once nothing outside the package references it;
//  3. build an id map per table, in dependency order: a row whose natural key matches an existing
//     target row takes that row's id (foreign-key columns of the key compared through the maps,
//     trees matched level by level from the roots); the others keep their source ids where none
//     can collide (always into an empty table; Options.KeepIDs for tables with rows), else get
//     fresh ids past the target's highest id, its sequence and every kept id (replace mode: every
//     row keeps its id); a map built while staging (held.go) is not built again, unless the
//     manifest's key plan contradicts the one it was built under; the map of a table empty before the restore maps every id to itself and
//     is only a view over staging, which the insert does not join;
//  4. preflight: duplicate natural keys, dangling references, NOT NULL gaps, unique conflicts,
//     rows matched with different content (diverged), keyless rows already present, stored
//     generated columns computed from an id or reference the restore changes (a backup carries no
//     generated value, so the target would compute another), a primary key that is also a
//     foreign key whose parent's map gives a row's parent another id than the table's map gives
//     the row (checkSharedIDs); every finding is collected before
//     anything else is written (rows loaded straight in stay invisible to others until the commit);
//  5. INSERT … SELECT every table (but those loaded straight in) with every reference rewritten
//     through the maps; references inside a cycle go in NULL and are set by UPDATE (or wait on
//     deferrable constraints);
//     generic foreign keys are rewritten through the map of the content type's table;
//  6. move sequences past every id, check constraints, counts, sequences and the logical digest of
//     the restored rows against the package's — read back from the target, or, for a table whose
//     rows provably landed as they were sent, computed from what was sent (the landing proof,
//     landing.go; each table's digest check says which);
//  7. commit — or roll back and return every finding.
//
// Nothing is written row by row from Go, so memory does not grow with the data.
package restore
