package pack

import (
	"encoding/json"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestTableArithmetic(t *testing.T) {
	a := TableDigest{Rows: 3, Sum1: "18446744073709551615", Sum2: "5"} // 2^64-1: sums exceed 64 bits
	b := TableDigest{Rows: 2, Sum1: "18446744073709551615", Sum2: "7"}
	sum := a.Add(b)
	if sum.Rows != 5 || sum.Sum1 != "36893488147419103230" || sum.Sum2 != "12" {
		t.Errorf("Add = %+v", sum)
	}
	if !sum.Add(TableDigest{}).Equal(sum) {
		t.Error("adding an empty table changed the digest")
	}
	if !a.Add(b).Equal(b.Add(a)) {
		t.Error("Add is not commutative")
	}
	c := TableDigest{Rows: 1, Sum1: "1", Sum2: "2"}
	if !a.Add(b).Add(c).Equal(a.Add(b.Add(c))) {
		t.Error("Add is not associative")
	}
	if back := sum.Sub(b); !back.Equal(a) || back.Rows != 3 {
		t.Errorf("Sub = %+v, want %+v", back, a)
	}
	if d := a.Sub(a); !d.Equal(TableDigest{Sum1: "0", Sum2: "0"}) || d.Rows != 0 {
		t.Errorf("a - a = %+v", d)
	}
}

func TestTableEqual(t *testing.T) {
	base := TableDigest{Rows: 2, Sum1: "10", Sum2: "20"}
	if !base.Equal(TableDigest{Rows: 2, Sum1: " 10", Sum2: "020"}) {
		t.Error("Equal compares values, not spellings")
	}
	for _, o := range []TableDigest{
		{Rows: 3, Sum1: "10", Sum2: "20"},
		{Rows: 2, Sum1: "11", Sum2: "20"},
		{Rows: 2, Sum1: "10", Sum2: "21"},
		{Rows: 2, Sum1: "20", Sum2: "10"},
	} {
		if base.Equal(o) {
			t.Errorf("%+v equals %+v", base, o)
		}
	}
	// Empty sums are zero.
	if !(TableDigest{}).Equal(TableDigest{Sum1: "0", Sum2: "0"}) {
		t.Error("empty sums must equal zero")
	}
}

func TestHex(t *testing.T) {
	base := TableDigest{Rows: 2, Sum1: "10", Sum2: "20"}
	h := base.Hex("public.a")
	if !hex64.MatchString(h) {
		t.Fatalf("Hex = %q", h)
	}
	if base.Hex("public.a") != h {
		t.Error("Hex is not deterministic")
	}
	if (TableDigest{Rows: 2, Sum1: "010", Sum2: "20"}).Hex("public.a") != h {
		t.Error("Hex depends on the spelling of a sum")
	}
	for name, other := range map[string]string{
		"table name": base.Hex("public.b"),
		"rows":       TableDigest{Rows: 3, Sum1: "10", Sum2: "20"}.Hex("public.a"),
		"sum1":       TableDigest{Rows: 2, Sum1: "11", Sum2: "20"}.Hex("public.a"),
		"sum2":       TableDigest{Rows: 2, Sum1: "10", Sum2: "21"}.Hex("public.a"),
		"lanes swap": TableDigest{Rows: 2, Sum1: "20", Sum2: "10"}.Hex("public.a"),
	} {
		if other == h {
			t.Errorf("changing the %s does not change Hex", name)
		}
	}
}

// rowHashes returns n random rows' lane values as decimal strings.
func rowHashes(rng *rand.Rand, n int) []TableDigest {
	out := make([]TableDigest, n)
	for i := range out {
		out[i] = TableDigest{Rows: 1, Sum1: strconv.FormatUint(rng.Uint64(), 10), Sum2: strconv.FormatUint(rng.Uint64(), 10)}
	}
	return out
}

func fold(rows []TableDigest) TableDigest {
	var t TableDigest
	for _, r := range rows {
		t = t.Add(r)
	}
	return t
}

func TestMultiset(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	rows := rowHashes(rng, 200)
	want := fold(rows)
	// Row order does not matter.
	for i := 0; i < 10; i++ {
		rng.Shuffle(len(rows), func(a, b int) { rows[a], rows[b] = rows[b], rows[a] })
		if got := fold(rows); !got.Equal(want) {
			t.Fatalf("shuffle %d: %+v, want %+v", i, got, want)
		}
	}
	// A duplicate row counts.
	dup := fold(append(append([]TableDigest(nil), rows...), rows[0]))
	if dup.Equal(want) || dup.Hex("public.t") == want.Hex("public.t") {
		t.Error("a duplicated row does not change the digest")
	}
	// A lost row counts.
	if fold(rows[1:]).Equal(want) {
		t.Error("a lost row does not change the digest")
	}
	// Swapping a row for a different one counts, even with the row count unchanged.
	changed := append([]TableDigest(nil), rows...)
	changed[5] = rowHashes(rng, 1)[0]
	if fold(changed).Equal(want) {
		t.Error("a changed row does not change the digest")
	}
}

func tables(rng *rand.Rand) map[string]TableDigest {
	out := map[string]TableDigest{}
	for _, q := range []string{"public.auth_user", "public.documents_document", "public.documents_version", "audit.entry", "public.empty"} {
		out[q] = fold(rowHashes(rng, rng.Intn(20)))
	}
	return out
}

func TestNewSummary(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	base := tables(rng)
	s := NewDigest(base)
	if !hex64.MatchString(s.Total) {
		t.Fatalf("Total = %q", s.Total)
	}
	// Building the same map in another insertion order gives the same total.
	names := []string{}
	for q := range base {
		names = append(names, q)
	}
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(names), func(a, b int) { names[a], names[b] = names[b], names[a] })
		m := map[string]TableDigest{}
		for _, q := range names {
			m[q] = base[q]
		}
		if got := NewDigest(m).Total; got != s.Total {
			t.Fatalf("insertion order %v changed the total", names)
		}
	}
	// The total changes when any one table changes, appears or disappears.
	for q := range base {
		for name, edit := range map[string]func(TableDigest) TableDigest{
			"rows": func(t TableDigest) TableDigest { t.Rows++; return t },
			"sum1": func(t TableDigest) TableDigest { return t.Add(TableDigest{Sum1: "1"}) },
			"sum2": func(t TableDigest) TableDigest { return t.Add(TableDigest{Sum2: "1"}) },
		} {
			m := copyMap(base)
			m[q] = edit(m[q])
			if NewDigest(m).Total == s.Total {
				t.Errorf("changing %s of %s does not change the total", name, q)
			}
		}
		m := copyMap(base)
		delete(m, q)
		if NewDigest(m).Total == s.Total {
			t.Errorf("dropping %s does not change the total", q)
		}
		// The same digest under another table name is another database.
		m = copyMap(base)
		m[q+"_renamed"] = m[q]
		delete(m, q)
		if NewDigest(m).Total == s.Total {
			t.Errorf("renaming %s does not change the total", q)
		}
	}
	m := copyMap(base)
	m["public.new"] = TableDigest{}
	if NewDigest(m).Total == s.Total {
		t.Error("an added empty table does not change the total")
	}
	if NewDigest(nil).Total == "" || NewDigest(nil).Total != NewDigest(map[string]TableDigest{}).Total {
		t.Error("the empty summary")
	}
}

func copyMap(m map[string]TableDigest) map[string]TableDigest {
	out := make(map[string]TableDigest, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestLines(t *testing.T) {
	s := NewDigest(map[string]TableDigest{
		"public.b":    {Rows: 2, Sum1: "1", Sum2: "2"},
		"audit.entry": {Rows: 0},
		"public.a":    {Rows: 10, Sum1: "3", Sum2: "4"},
	})
	lines := s.Lines()
	if len(lines) != 4 {
		t.Fatalf("Lines = %q", lines)
	}
	want := []string{
		"audit.entry 0 " + (TableDigest{}).Hex("audit.entry"),
		"a 10 " + s.Tables["public.a"].Hex("public.a"),
		"b 2 " + s.Tables["public.b"].Hex("public.b"),
		"total " + s.Total,
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
	// A summary survives JSON (as it does in a manifest) with the same lines.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Digest
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if strings.Join(back.Lines(), "\n") != strings.Join(lines, "\n") {
		t.Error("lines differ after a JSON round trip")
	}
	if NewDigest(back.Tables).Total != s.Total {
		t.Error("total differs after a JSON round trip")
	}
}
