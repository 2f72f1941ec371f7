package corrupt

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// Ceiling is the most a check of an injector's damage may cost: wall time for verify and
// restore, and the peak resident memory of `edmsdr verify`. Zero fields are unbounded.
type Ceiling struct {
	Time   time.Duration
	RSSMiB int64
}

// hostileCeiling bounds the hostile inputs of issue 9: each was minutes or gigabytes before.
var hostileCeiling = Ceiling{Time: 30 * time.Second, RSSMiB: 256}

// hostileInjectors are hostile packages that must cost bounded time and memory (issue 9, items
// 2-5, 11 and 14).
func hostileInjectors() []Injector {
	pkg := func(name string, inject func([]byte, int64) ([]byte, error)) Injector {
		return Injector{Name: name, AppliesTo: Package, Detection: verifyCatches(corruptOnly...), Ceiling: hostileCeiling, Inject: inject}
	}
	marker := pkg("end-of-data-marker", onEntries("end-of-data-marker", true, func(es []Entry, r *rand.Rand) ([]Entry, error) {
		i, err := oneOf(es, r, false)
		if err != nil {
			return nil, err
		}
		n := bytes.IndexByte(es[i].Data, '\n')
		es[i].Data = append(append(append([]byte(nil), es[i].Data[:n]...), `\.`...), es[i].Data[n:]...)
		return es, nil
	}))
	marker.Seeded = true
	return []Injector{
		// Item 2: a data entry with one field too many in its first row, then 900 MiB of rows
		// that compress to a few kilobytes: skipped after the shape finding, but still counted
		// by the ratio check.
		pkg("drained-bomb", drainedBomb),
		// Item 3: 4,000 empty entries, listed in the manifest (the writer never writes one).
		pkg("empty-entries", onEntries("empty-entries", true, func(es []Entry, _ *rand.Rand) ([]Entry, error) {
			idx := dataEntries(es, false)
			if len(idx) == 0 {
				return nil, ErrNotApplicable
			}
			last := idx[len(idx)-1]
			ti, ci, _ := pack.ParseDataName(es[last].Header.Name)
			extra := make([]Entry, 4000)
			for k := range extra {
				extra[k] = File(pack.DataName(ti, ci+1+k), nil)
			}
			es = append(es[:last+1], append(extra, es[last+1:]...)...)
			return es, editManifest(es, func(m *pack.Manifest) error {
				for k := range m.Tables {
					if m.Tables[k].Index == ti {
						for _, e := range extra {
							m.Tables[k].Chunks = append(m.Tables[k].Chunks, pack.Chunk{Name: e.Header.Name})
						}
					}
				}
				return nil
			})
		})),
		// Item 4: a schema snapshot table with 100,000 more columns.
		pkg("wide-schema-snapshot", onEntries("wide-schema-snapshot", false, func(es []Entry, _ *rand.Rand) ([]Entry, error) {
			return es, editManifest(es, func(m *pack.Manifest) error {
				if m.Schema == nil || len(m.Schema.Tables) == 0 {
					return ErrNotApplicable
				}
				t := m.Schema.Tables[0]
				for k := range 100000 {
					t.Columns = append(t.Columns, t.Columns[0])
					t.Columns[len(t.Columns)-1].Name = "c" + strings.Repeat("x", k%7) + string(rune('a'+k%26)) + itoa(k)
				}
				return nil
			})
		})),
		// Item 5: a manifest that is a list of 8 million empty objects (24 MiB, a few KB packed).
		pkg("huge-manifest-list", onEntries("huge-manifest-list", false, func(es []Entry, _ *rand.Rand) ([]Entry, error) {
			i, err := entry(es, pack.ManifestName)
			if err != nil {
				return nil, err
			}
			es[i].Data = []byte(`{"format":1,"tables":[` + strings.Repeat(`{},`, 8<<20) + `{}]}`)
			return es, nil
		})),
		// Item 11: a negative table index in the header.
		pkg("negative-table-index", onEntries("negative-table-index", false, func(es []Entry, _ *rand.Rand) ([]Entry, error) {
			return es, editHeader(es, func(h *pack.Header) error {
				if len(h.Tables) == 0 {
					return ErrNotApplicable
				}
				h.Tables[0].Index = -1
				return nil
			})
		})),
		// Item 14: a row ending in \. (COPY's end-of-data marker: the server drops the dot),
		// checksums recomputed.
		marker,
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// drainedBomb is a package whose first data entry (with a row) holds a row with one field too
// many, then 900 MiB of copies of a valid row.
func drainedBomb(src []byte, _ int64) ([]byte, error) { return bomb(src, true) }
