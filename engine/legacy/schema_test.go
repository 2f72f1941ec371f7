package legacy

import (
	"testing"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Test schema builders: a Django-shaped schema small enough to read.

func col(name, typ string) schema.Column { return schema.Column{Name: name, Type: typ, NotNull: true} }

func null(name, typ string) schema.Column { return schema.Column{Name: name, Type: typ} }

func idTable(name string, cols ...schema.Column) *schema.Table {
	return &schema.Table{Schema: "public", Name: name, Columns: append([]schema.Column{col("id", "integer")}, cols...), PrimaryKey: []string{"id"},
		Uniques: []schema.Unique{{Name: name + "_pkey", Columns: []string{"id"}, Constraint: true, Primary: true}}}
}

func fk(column, ref string) schema.ForeignKey {
	return schema.ForeignKey{Name: column + "_fk", Columns: []string{column}, RefSchema: "public", RefTable: ref, RefColumns: []string{"id"}}
}

func unique(t *schema.Table, cols ...string) {
	t.Uniques = append(t.Uniques, schema.Unique{Name: t.Name + "_uniq", Columns: cols, Constraint: true})
}

// djangoSchema is contenttypes, auth (permissions, groups, users with their many-to-many
// tables), a folder tree, documents with a self many-to-many, and a keyless audit table with a
// generic foreign key.
func djangoSchema() *schema.Schema {
	ct := idTable("django_content_type", col("app_label", "character varying(100)"), col("model", "character varying(100)"))
	unique(ct, "app_label", "model")
	perm := idTable("auth_permission", col("name", "character varying(255)"), col("content_type_id", "integer"), col("codename", "character varying(100)"))
	perm.ForeignKeys = []schema.ForeignKey{fk("content_type_id", "django_content_type")}
	unique(perm, "content_type_id", "codename")
	group := idTable("auth_group", col("name", "character varying(150)"))
	unique(group, "name")
	gp := idTable("auth_group_permissions", col("group_id", "integer"), col("permission_id", "integer"))
	gp.ForeignKeys = []schema.ForeignKey{fk("group_id", "auth_group"), fk("permission_id", "auth_permission")}
	unique(gp, "group_id", "permission_id")
	user := idTable("auth_user", col("username", "character varying(150)"), null("last_login", "timestamp with time zone"))
	unique(user, "username")
	ug := idTable("auth_user_groups", col("user_id", "integer"), col("group_id", "integer"))
	ug.ForeignKeys = []schema.ForeignKey{fk("user_id", "auth_user"), fk("group_id", "auth_group")}
	unique(ug, "user_id", "group_id")
	folder := idTable("documents_folder", null("parent_id", "integer"), col("name", "character varying(255)"))
	folder.ForeignKeys = []schema.ForeignKey{fk("parent_id", "documents_folder")}
	unique(folder, "parent_id", "name")
	folder.Uniques = append(folder.Uniques, schema.Unique{Name: "documents_folder_root", Columns: []string{"name"}, Predicate: "(parent_id IS NULL)"})
	doc := idTable("documents_document", col("document_number", "character varying(64)"), null("folder_id", "integer"), col("owner_id", "integer"),
		col("content", "bytea"), null("metadata", "jsonb"), null("price", "numeric(10,2)"))
	doc.ForeignKeys = []schema.ForeignKey{fk("folder_id", "documents_folder"), fk("owner_id", "auth_user")}
	unique(doc, "document_number")
	rel := idTable("documents_document_related", col("from_document_id", "integer"), col("to_document_id", "integer"))
	rel.ForeignKeys = []schema.ForeignKey{fk("from_document_id", "documents_document"), fk("to_document_id", "documents_document")}
	unique(rel, "from_document_id", "to_document_id")
	audit := idTable("audit_auditentry", null("content_type_id", "integer"), null("object_id", "integer"), col("action", "character varying(32)"))
	audit.ForeignKeys = []schema.ForeignKey{fk("content_type_id", "django_content_type")}
	return schema.New([]*schema.Table{ct, perm, group, gp, user, ug, folder, doc, rel, audit})
}

func djangoMapping(tb testing.TB, kf *keys.File) *Mapping {
	tb.Helper()
	s := djangoSchema()
	plan, err := keys.Build(s, kf)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := NewMapping(s, plan, kf)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
