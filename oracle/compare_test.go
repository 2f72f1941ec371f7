package oracle_test

import (
	"reflect"
	"testing"

	"github.com/edmsdr/edmsdr/oracle"
)

func TestParseReference(t *testing.T) {
	got, err := oracle.ParseReference("sales.branch.manager_id", "hr.employee(id)")
	want := oracle.Reference{Table: "sales.branch", Columns: []string{"manager_id"}, RefTable: "hr.employee", RefColumns: []string{"id"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range [][2]string{{"manager_id", "employee(id)"}, {"branch.", "employee(id)"}, {"branch.m", "employee"},
		{"branch.m", "employee()"}, {"branch.m", "(id)"}, {"branch.m", "employee(id) x"}} {
		if _, err := oracle.ParseReference(bad[0], bad[1]); err == nil {
			t.Errorf("%q: %q parsed", bad[0], bad[1])
		}
	}
}
