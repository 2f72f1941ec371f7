package keys

import (
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to ParseFile and what it accepts to Build: nothing may
// panic, an accepted file is never nil, and Build returns either a plan that validates or an error.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"",
		"tables:\n  auth_user: {natural_key: [username]}\n  workflows_transition: {natural_key: []}\n",
		"tables:\n  folder: {natural_key: [parent_id, parent_id, name]}\n  ghost: {}\n",
		"generic_foreign_keys:\n  - {table: audit_auditentry, content_type: content_type_id, object_id: object_id}\n",
		"content_types:\n  table: django_content_type\n  app_label: app_label\n  model: model\n  models: {\"legacy.doc\": documents_document}\n",
		"content_types: {disabled: true}\nexclude: [django_session]\n",
		"tables: {a: {natural_key: [x]}}\n---\ntables: {}\n",
		"tabels: 1\n",
		"&a [*a]\n",
	} {
		f.Add([]byte(seed))
	}
	s := edmsSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := ParseFile(data)
		if err != nil {
			if kf != nil {
				t.Fatal("an error and a file")
			}
			return
		}
		if kf == nil {
			t.Fatal("no error and no file")
		}
		p, err := Build(s, kf)
		if err != nil {
			if p != nil {
				t.Fatal("Build returned a plan and an error")
			}
			return
		}
		if p == nil {
			t.Fatal("Build returned neither plan nor error")
		}
		if errs := p.Validate(s); len(errs) != 0 {
			t.Fatalf("Build returned a plan that does not validate: %v", errs)
		}
		if !p.Equal(p) {
			t.Fatal("a plan is not equal to itself")
		}
	})
}
