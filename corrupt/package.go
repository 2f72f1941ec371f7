package corrupt

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// onEntries is an injector that damages a package's entries: unpack, damage, reseal if asked
// (so that only the damage itself is left to find), repack.
func onEntries(name string, reseal bool, damage func(es []Entry, r *rand.Rand) ([]Entry, error)) func([]byte, int64) ([]byte, error) {
	return func(src []byte, seed int64) ([]byte, error) {
		es, err := Unpack(src)
		if err != nil {
			return nil, err
		}
		if es, err = damage(es, rng(seed, name)); err != nil {
			return nil, err
		}
		if reseal {
			if err := Reseal(es); err != nil {
				return nil, err
			}
		}
		return Repack(es)
	}
}

// onView is an injector that damages a package's data and resealed it: checksums, sizes and
// counts stay correct, only reconciliation and validation can see the damage.
func onView(name string, damage func(v *view, r *rand.Rand) error) func([]byte, int64) ([]byte, error) {
	return func(src []byte, seed int64) ([]byte, error) {
		v, err := openView(src)
		if err != nil {
			return nil, err
		}
		if err := damage(v, rng(seed, name)); err != nil {
			return nil, err
		}
		return v.close()
	}
}

// onBytes is an injector that works on the package file's bytes.
func onBytes(name string, damage func(b []byte, r *rand.Rand) ([]byte, error)) func([]byte, int64) ([]byte, error) {
	return func(src []byte, seed int64) ([]byte, error) { return damage(bytes.Clone(src), rng(seed, name)) }
}

// flipBit flips one bit of b at a position drawn from [from, to) (nothing when it is empty).
func flipBit(b []byte, from, to int, r *rand.Rand) {
	if to > from {
		b[from+r.IntN(to-from)] ^= 1 << r.IntN(8)
	}
}

// oneOf returns the index of a random data entry (reference entries too when refs) with data.
func oneOf(es []Entry, r *rand.Rand, refs bool) (int, error) {
	var idx []int
	for _, i := range dataEntries(es, refs) {
		if len(es[i].Data) > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return 0, ErrNotApplicable
	}
	return idx[r.IntN(len(idx))], nil
}

// packageInjectors are the damages of a package, by category.
func packageInjectors() []Injector {
	var all []Injector
	for _, category := range []func() []Injector{
		flipInjectors, truncationInjectors, entryInjectors, manifestInjectors, semanticInjectors, sealInjectors, harmlessInjectors, notPackageInjectors,
	} {
		all = append(all, category()...)
	}
	return all
}

// packageInjector is an injector of Package damage.
func packageInjector(name string, seeded bool, d Detection, inject func([]byte, int64) ([]byte, error)) Injector {
	return Injector{Name: name, AppliesTo: Package, Seeded: seeded, Detection: d, Inject: inject}
}

// flipInjectors are bit flips in the uncompressed content of each kind of entry, recompressed
// (so that zstd's checksum cannot be what catches them).
func flipInjectors() []Injector {
	headerKinds := []finding.Kind{finding.Corrupt, finding.Unsupported, finding.SchemaMismatch}
	return []Injector{
		packageInjector("flip-header", true, verifyCatches(headerKinds...), onEntries("flip-header", false, flipHeader)),
		packageInjector("flip-data-entry", true, verifyCatches(corruptOrValue...), onEntries("flip-data-entry", false, flipDataEntry)),
		packageInjector("flip-reference-entry", true, verifyCatches(corruptOrValue...), withReference("flip-reference-entry", anyKey, sameKey, flipReferenceEntry)),
		packageInjector("flip-manifest-tables", true, verifyCatches(corruptOnly...), onEntries("flip-manifest-tables", false, flipManifestTables)),
		packageInjector("flip-compressed", true, verifyCatches(finding.Corrupt, finding.Constraint, finding.SchemaMismatch, finding.Unsupported), onBytes("flip-compressed", flipCompressed)),
	}
}

func flipHeader(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := entry(es, pack.HeaderName)
	if err == nil {
		flipBit(es[i].Data, 0, len(es[i].Data), r)
	}
	return es, err
}

func flipDataEntry(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := oneOf(es, r, false)
	if err != nil {
		return nil, err
	}
	flipBit(es[i].Data, 0, len(es[i].Data), r)
	return es, nil
}

func flipReferenceEntry(es []Entry, r *rand.Rand) ([]Entry, error) {
	i := slices.IndexFunc(es, func(e Entry) bool { return strings.HasPrefix(e.Header.Name, "refs/") })
	flipBit(es[i].Data, 0, len(es[i].Data), r)
	return es, nil
}

func flipManifestTables(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := entry(es, pack.ManifestName)
	if err != nil {
		return nil, err
	}
	m := es[i].Data
	from, to := bytes.Index(m, []byte(`"tables":[{"index":`)), bytes.Index(m, []byte(`],"digest":`))
	if from < 0 || to < from {
		return nil, ErrNotApplicable
	}
	// Values only: encoding/json matches keys case-insensitively, so a flipped letter
	// case in a key would change nothing.
	var at []int
	keys := keyBytes(m)
	for i := from + len(`"tables":[`); i < to; i++ {
		if !keys[i] {
			at = append(at, i)
		}
	}
	m[at[r.IntN(len(at))]] ^= 1 << r.IntN(8)
	return es, nil
}

// truncationInjectors cut the package short.
func truncationInjectors() []Injector {
	return []Injector{
		packageInjector("empty-file", false, verifyCatches(corruptOnly...), func([]byte, int64) ([]byte, error) { return []byte{}, nil }),
		packageInjector("truncate-compressed", true, verifyCatches(corruptOnly...), onBytes("truncate-compressed", truncateCompressed)),
		packageInjector("truncate-compressed-tail", true, verifyCatches(corruptOnly...), onBytes("truncate-compressed-tail", truncateCompressedTail)),
		packageInjector("truncate-tar", true, verifyCatches(corruptOnly...), onTar("truncate-tar", truncateTar)),
		packageInjector("truncate-tar-tail", true, verifyCatches(corruptOnly...), onTar("truncate-tar-tail", truncateTarTail)),
	}
}

func truncateCompressed(b []byte, r *rand.Rand) ([]byte, error) {
	if len(b) < 2 {
		return nil, ErrNotApplicable
	}
	return b[:1+r.IntN(len(b)-1)], nil
}

func truncateCompressedTail(b []byte, r *rand.Rand) ([]byte, error) {
	if len(b) < 2 {
		return nil, ErrNotApplicable
	}
	return b[:len(b)-1-r.IntN(min(16, len(b)-1))], nil
}

func truncateTar(raw []byte, r *rand.Rand) []byte {
	return raw[:r.IntN(len(raw))]
}

func truncateTarTail(raw []byte, r *rand.Rand) []byte {
	// Inside the manifest's padding or the end-of-archive blocks: the data itself is whole.
	return raw[:len(raw)-1-r.IntN(min(1536, len(raw)-1))]
}

// entryInjectors remove, duplicate, reorder and add entries.
func entryInjectors() []Injector {
	return []Injector{
		packageInjector("remove-data-entry", true, verifyCatches(corruptOnly...), onEntries("remove-data-entry", false, removeDataEntry)),
		packageInjector("remove-header", false, verifyCatches(corruptOnly...), onEntries("remove-header", false, removeHeader)),
		packageInjector("remove-manifest", false, verifyCatches(corruptOnly...), onEntries("remove-manifest", false, removeManifest)),
		packageInjector("duplicate-data-entry", true, verifyCatches(corruptOnly...), onEntries("duplicate-data-entry", false, duplicateDataEntry)),
		packageInjector("swap-data-entries", true, verifyCatches(corruptOnly...), onEntries("swap-data-entries", false, swapDataEntries)),
		packageInjector("manifest-before-data", false, verifyCatches(corruptOnly...), onEntries("manifest-before-data", false, manifestBeforeData)),
		packageInjector("unknown-entry", false, verifyCatches(corruptOnly...), onEntries("unknown-entry", false, unknownEntry)),
	}
}

func removeDataEntry(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := oneOf(es, r, false)
	if err != nil {
		return nil, err
	}
	return slices.Delete(es, i, i+1), nil
}

func removeHeader(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := entry(es, pack.HeaderName)
	if err != nil {
		return nil, err
	}
	return slices.Delete(es, i, i+1), nil
}

func removeManifest(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := entry(es, pack.ManifestName)
	if err != nil {
		return nil, err
	}
	return slices.Delete(es, i, i+1), nil
}

func duplicateDataEntry(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := oneOf(es, r, false)
	if err != nil {
		return nil, err
	}
	return slices.Insert(es, i+1, es[i]), nil
}

func swapDataEntries(es []Entry, r *rand.Rand) ([]Entry, error) {
	idx := dataEntries(es, false)
	if len(idx) < 2 {
		return nil, ErrNotApplicable
	}
	a := r.IntN(len(idx) - 1)
	b := a + 1 + r.IntN(len(idx)-a-1)
	es[idx[a]], es[idx[b]] = es[idx[b]], es[idx[a]]
	return es, nil
}

func manifestBeforeData(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := entry(es, pack.ManifestName)
	if err != nil {
		return nil, err
	}
	m := es[i]
	return slices.Insert(slices.Delete(es, i, i+1), 1, m), nil
}

func unknownEntry(es []Entry, r *rand.Rand) ([]Entry, error) {
	return slices.Insert(es, min(1, len(es)), File("notes.txt", []byte("hello\n"))), nil
}

// manifestInjectors edit the manifest and the header (what changed is what they edit, so
// nothing is resealed).
func manifestInjectors() []Injector {
	return []Injector{
		packageInjector("manifest-row-count", true, verifyCatches(corruptOnly...), onEntries("manifest-row-count", false, manifestRowCount)),
		packageInjector("manifest-checksum", true, verifyCatches(corruptOnly...), onEntries("manifest-checksum", false, manifestChecksum)),
		packageInjector("manifest-format-version", false, verifyCatches(finding.Corrupt, finding.Unsupported), onEntries("manifest-format-version", false, manifestFormatVersion)),
		packageInjector("manifest-table-name", true, verifyCatches(corruptOnly...), onEntries("manifest-table-name", false, manifestTableName)),
		packageInjector("manifest-column-name", true, verifyCatches(corruptOnly...), onEntries("manifest-column-name", true, manifestColumnName)),
		packageInjector("header-format-version", false, verifyCatches(finding.Unsupported), onEntries("header-format-version", true, headerFormatVersion)),
		packageInjector("header-table-name", true, verifyCatches(finding.Corrupt, finding.SchemaMismatch), onEntries("header-table-name", true, headerTableName)),
		packageInjector("row-extra-field", true, verifyCatches(corruptOnly...), onEntries("row-extra-field", true, rowExtraField)),
	}
}

func manifestRowCount(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		if len(m.Tables) == 0 {
			return ErrNotApplicable
		}
		m.Tables[r.IntN(len(m.Tables))].Rows++
		return nil
	})
}

func manifestChecksum(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		var cs []*pack.Chunk
		for ti := range m.Tables {
			for ci := range m.Tables[ti].Chunks {
				cs = append(cs, &m.Tables[ti].Chunks[ci])
			}
		}
		if len(cs) == 0 {
			return ErrNotApplicable
		}
		cs[r.IntN(len(cs))].SHA256 = sha([]byte("something else"))
		return nil
	})
}

func manifestFormatVersion(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error { m.Format = pack.FormatVersion + 1; return nil })
}

func manifestTableName(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		if len(m.Tables) == 0 {
			return ErrNotApplicable
		}
		m.Tables[r.IntN(len(m.Tables))].Table += "_renamed"
		return nil
	})
}

func manifestColumnName(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		if m.Schema == nil || len(m.Schema.Tables) == 0 {
			return ErrNotApplicable
		}
		t := m.Schema.Tables[r.IntN(len(m.Schema.Tables))]
		if t == nil || len(t.Columns) == 0 {
			return ErrNotApplicable
		}
		t.Columns[r.IntN(len(t.Columns))].Name += "_renamed"
		return nil
	})
}

func headerFormatVersion(es []Entry, r *rand.Rand) ([]Entry, error) {
	// The first version no build reads (version 2 is version 1 with large value entries).
	return es, editHeader(es, func(h *pack.Header) error { h.Format = pack.FormatLargeValues + 1; return nil })
}

func headerTableName(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editHeader(es, func(h *pack.Header) error {
		if len(h.Tables) == 0 {
			return ErrNotApplicable
		}
		h.Tables[r.IntN(len(h.Tables))].Table += "_renamed"
		return nil
	})
}

func rowExtraField(es []Entry, r *rand.Rand) ([]Entry, error) {
	i, err := oneOf(es, r, false)
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(es[i].Data, []byte{'\n'})
	j := r.IntN(len(lines) - 1) // the last element is the empty remainder after the final newline
	lines[j] = append(bytes.TrimSuffix(lines[j], []byte{'\n'}), "\textra\n"...)
	es[i].Data = bytes.Join(lines, nil)
	return es, nil
}

// semanticInjectors damage the data and reseal it: the package verifies, only the restore can see
// it.
func semanticInjectors() []Injector {
	return []Injector{
		packageInjector("dangling-reference", true, restoreCatches(finding.Orphaned), onView("dangling-reference", danglingReference)),
		packageInjector("duplicate-natural-key", true, restoreCatches(finding.Duplicated, finding.KeyPlan), onView("duplicate-natural-key", duplicateNaturalKey)),
		packageInjector("duplicate-id", true, restoreCatches(finding.Duplicated), onView("duplicate-id", duplicateID)),
		packageInjector("wrong-type-value", true, restoreCatches(finding.Constraint), onView("wrong-type-value", wrongTypeValue)),
		packageInjector("null-in-not-null", true, restoreCatches(finding.Constraint), onView("null-in-not-null", nullInNotNull)),
		packageInjector("extra-column", true, restoreCatches(finding.SchemaMismatch), onView("extra-column", extraColumn)),
		packageInjector("missing-column", true, restoreCatches(finding.SchemaMismatch), onView("missing-column", missingColumn)),
		packageInjector("changed-value", true, restoreCatches(finding.DigestMismatch), onView("changed-value", changedValue)),
		packageInjector("removed-row", true, restoreCatches(finding.DigestMismatch, finding.Orphaned), onView("removed-row", removedRow)),
		packageInjector("duplicated-row", true, restoreCatches(finding.DigestMismatch), onView("duplicated-row", duplicatedRow)),
		packageInjector("dangling-generic-reference", true, restoreCatches(finding.Orphaned), onView("dangling-generic-reference", danglingGenericReference)),
		packageInjector("rewired-reference", true, restoreCatches(finding.DigestMismatch), onView("rewired-reference", rewiredReference)),
		packageInjector("columns-swapped", false, restoreCatches(finding.DigestMismatch), onView("columns-swapped", columnsSwapped)),
		packageInjector("null-id", true, restoreCatches(finding.Corrupt, finding.Constraint), onView("null-id", nullID)),
		packageInjector("unmatched-reference-row", true, restoreCatches(finding.Orphaned), withReference("unmatched-reference-row", textKey, missingKey, nil)),
		packageInjector("manifest-natural-key-id", true, restoreCatches(finding.KeyPlan, finding.DigestMismatch), onEntries("manifest-natural-key-id", false, manifestNaturalKeyID)),
		packageInjector("manifest-natural-key-dropped", true, restoreCatches(finding.Conflict, finding.Duplicated, finding.DigestMismatch, finding.KeyPlan), onEntries("manifest-natural-key-dropped", false, manifestNaturalKeyDropped)),
		packageInjector("manifest-digest-sum", true, restoreCatches(finding.DigestMismatch), onEntries("manifest-digest-sum", false, manifestDigestSum)),
	}
}

func manifestNaturalKeyID(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		// Match rows by their surrogate id, as an id-based backup would: wrong across databases.
		q, err := keyedTable(m, r)
		if err == nil {
			m.Plan.Tables[q].NaturalKey = []string{m.Schema.Table(q).SurrogateID()}
		}
		return err
	})
}

func manifestNaturalKeyDropped(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		q, err := keyedTable(m, r)
		if err == nil {
			m.Plan.Tables[q] = &keys.TablePlan{Source: "none"}
		}
		return err
	})
}

func manifestDigestSum(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error {
		var names []string
		for q, t := range m.Digest.Tables {
			if t.Rows > 0 {
				names = append(names, q)
			}
		}
		if len(names) == 0 {
			return ErrNotApplicable
		}
		slices.Sort(names)
		q := names[r.IntN(len(names))]
		t := m.Digest.Tables[q]
		t.Sum1 = addOne(t.Sum1)
		m.Digest.Tables[q] = t
		// The total follows, so that the package verifies: only a restore can tell.
		m.Digest.Total = pack.NewDigest(m.Digest.Tables).Total
		return nil
	})
}

// sealInjectors break what the package's own checks cover: verify refuses it.
func sealInjectors() []Injector {
	return []Injector{
		packageInjector("manifest-digest-total", false, verifyCatches(corruptOnly...), onEntries("manifest-digest-total", false, manifestDigestTotal)),
		packageInjector("table-removed", true, verifyCatches(corruptOnly...), removeTable),
	}
}

func manifestDigestTotal(es []Entry, r *rand.Rand) ([]Entry, error) {
	return es, editManifest(es, func(m *pack.Manifest) error { m.Digest.Total = sha([]byte(m.Digest.Total)); return nil })
}

// harmlessInjectors change the bytes, not the data: the package must restore exactly.
func harmlessInjectors() []Injector {
	return []Injector{
		packageInjector("rows-reordered", true, harmless, onView("rows-reordered", rowsReordered)),
		packageInjector("rechunked", true, harmless, onEntries("rechunked", true, rechunk)),
		packageInjector("empty-frame-appended", false, harmless, func(src []byte, _ int64) ([]byte, error) {
			empty, err := Compress(nil)
			return append(bytes.Clone(src), empty...), err
		}),
	}
}

func rowsReordered(v *view, r *rand.Rand) error {
	t, _, err := v.pick(r, 2, nil)
	if err != nil {
		return err
	}
	r.Shuffle(len(t.Rows), func(i, j int) { t.Rows[i], t.Rows[j] = t.Rows[j], t.Rows[i] })
	return nil
}

// notPackageInjectors are no package at all, or hostile archives.
func notPackageInjectors() []Injector {
	return []Injector{
		packageInjector("random-bytes", true, verifyCatches(corruptOnly...), onBytes("random-bytes", randomBytesDamage)),
		packageInjector("random-after-magic", true, verifyCatches(corruptOnly...), onBytes("random-after-magic", randomAfterMagic)),
		packageInjector("trailing-garbage", true, verifyCatches(corruptOnly...), onBytes("trailing-garbage", trailingGarbage)),
		packageInjector("decompression-bomb", false, verifyCatches(corruptOnly...), decompressionBomb),
		packageInjector("oversized-manifest", false, verifyCatches(corruptOnly...), oversizedManifest),
		packageInjector("path-parent", true, verifyCatches(corruptOnly...), renameEntry("path-parent", func(n string) string { return "../" + n })),
		packageInjector("path-absolute", true, verifyCatches(corruptOnly...), renameEntry("path-absolute", func(string) string { return "/etc/edmsdr-escape" })),
		packageInjector("symlink-entry", true, verifyCatches(corruptOnly...), linkEntry("symlink-entry", tar.TypeSymlink, "/etc/passwd")),
		packageInjector("hardlink-entry", true, verifyCatches(corruptOnly...), linkEntry("hardlink-entry", tar.TypeLink, "../../etc/passwd")),
	}
}

func randomBytesDamage(b []byte, r *rand.Rand) ([]byte, error) {
	return randomBytes(r, 4096), nil
}

func randomAfterMagic(b []byte, r *rand.Rand) ([]byte, error) {
	return append([]byte{0x28, 0xb5, 0x2f, 0xfd}, randomBytes(r, 4096)...), nil
}

func trailingGarbage(b []byte, r *rand.Rand) ([]byte, error) {
	return append(b, randomBytes(r, 1+r.IntN(64))...), nil
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// keyBytes marks the bytes of compact JSON text that belong to object keys (quotes included).
func keyBytes(text []byte) []bool {
	mask := make([]bool, len(text))
	for i := 0; i < len(text); i++ {
		if text[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(text) && text[i] != '"'; i++ {
			if text[i] == '\\' {
				i++
			}
		}
		if i+1 < len(text) && text[i+1] == ':' {
			for k := start; k <= i; k++ {
				mask[k] = true
			}
		}
	}
	return mask
}

// addOne adds one to a decimal number written as text.
func addOne(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '0' || b[i] > '9' {
			break
		}
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// onTar is an injector that damages the uncompressed tar stream and compresses it again as one
// well-formed frame.
func onTar(name string, damage func(raw []byte, r *rand.Rand) []byte) func([]byte, int64) ([]byte, error) {
	return func(src []byte, seed int64) ([]byte, error) {
		raw, err := Decompress(src)
		if err != nil {
			return nil, err
		}
		if len(raw) < 2 {
			return nil, ErrNotApplicable
		}
		return Compress(damage(raw, rng(seed, name)))
	}
}

// flipCompressed flips a bit of the compressed file, drawing again until the flip changes what
// the file decompresses to (zstd has bits whose flip changes nothing: those are not damage).
func flipCompressed(b []byte, r *rand.Rand) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrNotApplicable
	}
	want, err := Decompress(b)
	if err != nil {
		return nil, err
	}
	for range 1000 {
		d := bytes.Clone(b)
		flipBit(d, 0, len(d), r)
		if got, err := Decompress(d); err != nil || !bytes.Equal(got, want) {
			return d, nil
		}
	}
	return nil, errors.New("flip-compressed: no flip changed the content in 1000 draws")
}

// withReference gives the package a reference entry: one row of a keyed table (with a surrogate
// id) for which ok holds, made by row from the table's rows and natural key, as a converted
// fixture carries it; it reseals, then lets damage change the entries (nil: no more damage).
func withReference(name string, ok func(st *schema.Table, nk []string) bool, row func(t *TableRows, st *schema.Table, nk []string, r *rand.Rand) []byte,
	damage func(es []Entry, r *rand.Rand) ([]Entry, error)) func([]byte, int64) ([]byte, error) {
	return func(src []byte, seed int64) ([]byte, error) {
		r := rng(seed, name)
		v, err := openView(src)
		if err != nil {
			return nil, err
		}
		t, st, err := v.pick(r, 1, func(t *TableRows, st *schema.Table) bool {
			nk := v.man.Plan.NaturalKey(st.QName())
			return len(nk) > 0 && st.SurrogateID() != "" && ok(st, nk)
		})
		if err != nil {
			return nil, err
		}
		ref := append(row(t, st, v.man.Plan.NaturalKey(st.QName()), r), '\n')
		refName := pack.RefName(t.Layout.Index, 0)
		es := v.entries
		at := len(es) - 1 // before the manifest, or before the next table's first entry
		for i, e := range es {
			if ti, _, ok := pack.ParseDataName(e.Header.Name); ok && ti > t.Layout.Index {
				at = i
				break
			}
		}
		es = slices.Insert(es, at, File(refName, ref))
		err = editManifest(es, func(m *pack.Manifest) error {
			for i := range m.Tables {
				if m.Tables[i].Index == t.Layout.Index {
					m.Tables[i].Refs = []pack.Chunk{{Name: refName}}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err := Reseal(es); err != nil {
			return nil, err
		}
		if damage != nil {
			if es, err = damage(es, r); err != nil {
				return nil, err
			}
		}
		return Repack(es)
	}
}

// referenceRow is a reference row for t: a fresh source id and the natural key given by key (the
// natural-key values of the row, by column name), every other column NULL.
func referenceRow(t *TableRows, st *schema.Table, key func(col string) []byte) []byte {
	sid := t.Col(st.SurrogateID())
	fields := make([][]byte, len(t.Layout.Columns))
	for i, c := range t.Layout.Columns {
		switch v := key(c); {
		case i == sid:
			fields[i] = []byte(strconv.FormatInt(maxID(t, sid)+1_000_000, 10))
		case v != nil:
			fields[i] = v
		default:
			fields[i] = []byte(`\N`)
		}
	}
	return bytes.Join(fields, []byte{'\t'})
}

// removeTable takes a whole table out of the package, consistently everywhere (its entries, the
// header, the manifest's lists, schema snapshot, key plan and per-table digests) except for the
// digest's total: a table no other table references, so that nothing but the total can tell.
func removeTable(src []byte, seed int64) ([]byte, error) {
	r := rng(seed, "table-removed")
	es, err := Unpack(src)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(es)
	if err != nil {
		return nil, err
	}
	if m.Schema == nil || m.Plan == nil {
		return nil, ErrNotApplicable
	}
	referenced := map[string]bool{}
	for _, t := range m.Schema.Tables {
		for _, fk := range t.ForeignKeys {
			if fk.RefQName() != t.QName() {
				referenced[fk.RefQName()] = true
			}
		}
	}
	var cands []pack.TableEntry
	for _, te := range m.Tables {
		if !referenced[te.Table] && te.Rows > 0 && (m.Plan.ContentTypes == nil || m.Plan.ContentTypes.Table != te.Table) {
			cands = append(cands, te)
		}
	}
	if len(cands) == 0 {
		return nil, ErrNotApplicable
	}
	gone := cands[r.IntN(len(cands))]
	es = slices.DeleteFunc(es, func(e Entry) bool {
		ti, _, ok := pack.ParseDataName(e.Header.Name)
		return ok && ti == gone.Index
	})
	err = editHeader(es, func(h *pack.Header) error {
		h.Tables = slices.DeleteFunc(h.Tables, func(l pack.TableLayout) bool { return l.Index == gone.Index })
		return nil
	})
	if err != nil {
		return nil, err
	}
	total := m.Digest.Total
	err = editManifest(es, func(m *pack.Manifest) error {
		m.Tables = slices.DeleteFunc(m.Tables, func(te pack.TableEntry) bool { return te.Index == gone.Index })
		m.Schema.Tables = slices.DeleteFunc(m.Schema.Tables, func(t *schema.Table) bool { return t.QName() == gone.Table })
		delete(m.Plan.Tables, gone.Table)
		m.Plan.GenericFKs = slices.DeleteFunc(m.Plan.GenericFKs, func(g keys.GenericFK) bool { return g.Table == gone.Table })
		if m.Plan.ContentTypes != nil {
			for model, q := range m.Plan.ContentTypes.Models {
				if q == gone.Table {
					delete(m.Plan.ContentTypes.Models, model)
				}
			}
		}
		delete(m.Digest.Tables, gone.Table)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := Reseal(es); err != nil {
		return nil, err
	}
	// Reseal recomputed the total: put back the one that covers the removed table.
	err = editManifest(es, func(m *pack.Manifest) error { m.Digest.Total = total; return nil })
	if err != nil {
		return nil, err
	}
	return Repack(es)
}

func anyKey(*schema.Table, []string) bool { return true }

// textKey holds for natural keys of text columns only (values a reference row can invent).
func textKey(st *schema.Table, nk []string) bool {
	return !slices.ContainsFunc(nk, func(c string) bool { col := st.Column(c); return col == nil || !textType(col.Type) })
}

// sameKey is a reference row carrying the natural key of one of the table's rows.
func sameKey(t *TableRows, st *schema.Table, nk []string, r *rand.Rand) []byte {
	row := t.Rows[r.IntN(len(t.Rows))]
	return referenceRow(t, st, func(c string) []byte {
		if slices.Contains(nk, c) {
			return Field(row, t.Col(c))
		}
		return nil
	})
}

// missingKey is a reference row whose natural key no database holds.
func missingKey(t *TableRows, st *schema.Table, nk []string, r *rand.Rand) []byte {
	return referenceRow(t, st, func(c string) []byte {
		if slices.Contains(nk, c) {
			return []byte(fmt.Sprintf("edmsdr-missing-%d", r.IntN(1_000_000)))
		}
		return nil
	})
}

// keyedTable picks a table of the manifest with a natural key, a surrogate id and rows.
func keyedTable(m *pack.Manifest, r *rand.Rand) (string, error) {
	if m.Schema == nil || m.Plan == nil {
		return "", ErrNotApplicable
	}
	var qs []string
	for _, te := range m.Tables {
		if st := m.Schema.Table(te.Table); st != nil && te.Rows > 0 && st.SurrogateID() != "" && m.Plan.Keyed(te.Table) &&
			!slices.Equal(m.Plan.NaturalKey(te.Table), []string{st.SurrogateID()}) {
			qs = append(qs, te.Table)
		}
	}
	if len(qs) == 0 {
		return "", ErrNotApplicable
	}
	return qs[r.IntN(len(qs))], nil
}

// rechunk cuts a table's data in two entries at a row boundary.
func rechunk(es []Entry, r *rand.Rand) ([]Entry, error) {
	// A table's last chunk, cut without renaming the chunks after it.
	var cands []int
	idx := dataEntries(es, false)
	for k, i := range idx {
		ti, _, _ := pack.ParseDataName(es[i].Header.Name)
		last := k == len(idx)-1
		if !last {
			next, _, _ := pack.ParseDataName(es[idx[k+1]].Header.Name)
			last = next != ti
		}
		if last && bytes.Count(es[i].Data, []byte{'\n'}) >= 2 {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return nil, ErrNotApplicable
	}
	i := cands[r.IntN(len(cands))]
	ti, ci, _ := pack.ParseDataName(es[i].Header.Name)
	lines := bytes.SplitAfter(es[i].Data, []byte{'\n'})
	cut := 1 + r.IntN(len(lines)-2)
	first, second := bytes.Join(lines[:cut], nil), bytes.Join(lines[cut:], nil)
	es[i].Data = first
	es = slices.Insert(es, i+1, File(pack.DataName(ti, ci+1), second))
	return es, editManifest(es, func(m *pack.Manifest) error {
		for k := range m.Tables {
			if m.Tables[k].Index == ti {
				m.Tables[k].Chunks = append(m.Tables[k].Chunks, pack.Chunk{Name: pack.DataName(ti, ci+1)})
			}
		}
		return nil
	})
}

func renameEntry(name string, rename func(string) string) func([]byte, int64) ([]byte, error) {
	return onEntries(name, false, func(es []Entry, r *rand.Rand) ([]Entry, error) {
		i, err := oneOf(es, r, false)
		if err != nil {
			return nil, err
		}
		es[i].Header.Name = rename(es[i].Header.Name)
		return es, nil
	})
}

func linkEntry(name string, typ byte, target string) func([]byte, int64) ([]byte, error) {
	return onEntries(name, false, func(es []Entry, r *rand.Rand) ([]Entry, error) {
		i, err := oneOf(es, r, false)
		if err != nil {
			return nil, err
		}
		es[i] = Entry{Header: tar.Header{Name: es[i].Header.Name, Typeflag: typ, Linkname: target, Mode: 0o777}}
		return es, nil
	})
}

// hugeEntry writes the entries before, then an entry called name of size bytes: head, then
// filler repeated (cut to fit). Each repetition of filler is its own zstd frame, compressed once:
// the file stays small whatever size is. With closeArchive the archive ends properly after it.
func hugeEntry(before []Entry, name string, head, filler []byte, size int64, closeArchive bool) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range before {
		h := e.Header
		h.Size = int64(len(e.Data))
		if err := tw.WriteHeader(&h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o600, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	tw.Flush()
	out, err := Compress(append(buf.Bytes(), head...))
	if err != nil {
		return nil, err
	}
	frame, err := Compress(filler)
	if err != nil {
		return nil, err
	}
	left := size - int64(len(head))
	for ; left >= int64(len(filler)); left -= int64(len(filler)) {
		out = append(out, frame...)
	}
	tail := append(bytes.Clone(filler[:left]), make([]byte, (512-size%512)%512)...)
	if closeArchive {
		tail = append(tail, make([]byte, 1024)...)
	}
	last, err := Compress(tail)
	return append(out, last...), err
}

// decompressionBomb is a package whose first data entry (with a row) declares 900 MiB of valid rows (one
// row of the table repeated) that compress to a few kilobytes.
func decompressionBomb(src []byte, _ int64) ([]byte, error) { return bomb(src, false) }

// bomb replaces the first data entry with a row by 900 MiB of copies of that row, after a row
// with one field too many when bad is set.
func bomb(src []byte, bad bool) ([]byte, error) {
	es, err := Unpack(src)
	if err != nil {
		return nil, err
	}
	for _, i := range dataEntries(es, false) {
		if n := bytes.IndexByte(es[i].Data, '\n'); n >= 0 {
			row := es[i].Data[:n+1]
			var head []byte
			if bad {
				head = append([]byte("\t"), row...)
			}
			filler := bytes.Repeat(row, (1<<20)/len(row)+1)
			return hugeEntry(es[:i], es[i].Header.Name, head, filler, 900*int64(len(filler)), false)
		}
	}
	return nil, ErrNotApplicable
}

// oversizedManifest is a package whose manifest is itself valid but padded with spaces (valid
// JSON whitespace) past the reader's 64 MiB bound.
func oversizedManifest(src []byte, _ int64) ([]byte, error) {
	es, err := Unpack(src)
	if err != nil {
		return nil, err
	}
	i := find(es, pack.ManifestName)
	if i < 0 {
		return nil, fmt.Errorf("package has no manifest: %w", ErrNotApplicable)
	}
	return hugeEntry(es[:i], pack.ManifestName, es[i].Data, bytes.Repeat([]byte{' '}, 1<<20), 65<<20, true)
}
