package pgquote

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestIdentQuotesAsPgx(t *testing.T) {
	for _, name := range []string{"", "id", "Mixed Case", `a"b`, `""`, "a.b", "nul\x00byte", "ünï", "select"} {
		if got, want := Ident(name), (pgx.Identifier{name}).Sanitize(); got != want {
			t.Errorf("Ident(%q) = %s, want %s", name, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"public.auth_user", `"public"."auth_user"`},
		{"auth_user", `"auth_user"`},
		{`s."t`, `"s"."""t"`},
		{"s.t.u", `"s"."t.u"`},
	} {
		if got := Table(c.in); got != c.want {
			t.Errorf("Table(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestIdents(t *testing.T) {
	if got, want := Idents([]string{"id", `we"ird`}), `"id", "we""ird"`; got != want {
		t.Errorf("Idents = %s, want %s", got, want)
	}
	if got := Idents(nil); got != "" {
		t.Errorf("Idents(nil) = %q, want empty", got)
	}
}

func TestLiteral(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "''"},
		{"app.model", "'app.model'"},
		{"it's", "'it''s'"},
		{`back\slash`, `'back\slash'`},
	} {
		if got := Literal(c.in); got != c.want {
			t.Errorf("Literal(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
