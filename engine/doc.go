// Package engine is the root of edmsdr's backup and restore engine. It holds no code; its
// subpackages each own one subsystem:
//
//   - schema: tables, columns, keys and the foreign-key graph (pure data, no I/O)
//   - introspect: reads a schema from pg_catalog
//   - keys: the key plan (natural key of every table, generic foreign keys, content types)
//   - finding: findings and verdicts, the fixed vocabulary every check reports in
//   - pgquote: identifiers, qualified names and literals quoted into SQL text (standard library only)
//   - copytext: fields of COPY text escaped, split and unescaped as the server reads them (standard
//     library only)
//   - pack: the package format (tar + zstd, COPY entries, manifest, digest values); no driver
//   - contenttype: the Django content types a table's generic foreign keys use, read from the database
//   - digest: the logical, id-independent digest of a database's data, computed in SQL
//   - backup: one consistent snapshot streamed into a package
//   - restore: staging, id maps, foreign-key rewriting, validation, atomic commit; replace mode,
//     safety backups and rollback
//   - journal: the record of every restore and rollback (JSON Lines file, edmsdr_journal table)
//   - dsn: connection strings, PG* environment variables, password redaction
//   - pgerr: PostgreSQL errors (SQLSTATE) turned into findings
//   - seal: encryption of packages at rest (age) and signatures over their manifest (ed25519)
//   - legacy: Django dumpdata fixtures in (converted to packages) and out (natural-key fixtures)
//   - pgcopy: COPY FROM STDIN that never reads its source after returning
//
// The engine imports no harness code: no Ginkgo, Gomega, gofakeit or testcontainers.
package engine
