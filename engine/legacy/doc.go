// Package legacy owns Django dumpdata fixtures: it reads them (a JSON array of {"model", "pk",
// "fields"} objects, JSON Lines, either gzip-compressed) as a stream, maps models and fields to
// tables and columns by Django's conventions (app_label_model tables, field_id foreign keys,
// table_field many-to-many through tables) with overrides from the keys file's django: section,
// resolves natural-key references set-based inside PostgreSQL, and writes the result as a package
// that the ordinary restore reconciles (Convert). It also writes a package back out as a fixture
// that Django's loaddata accepts, with natural foreign and primary keys (Export).
//
// Memory does not grow with the fixture: objects are streamed into temporary tables with COPY and
// every reference is resolved in SQL; the export keeps its id → natural key index on disk.
package legacy
