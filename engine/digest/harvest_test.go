package digest

import "testing"

// TestHarvesterRefusesWhatItCannotHold: an id seen twice (dense or sparse), an id outside the
// snapshot's range, or a set past the budget ends the harvest without a set (the server then
// builds the table's identities); a whole stream hands its set over, ids sorted.
func TestHarvesterRefusesWhatItCannotHold(t *testing.T) {
	newDense := func(lo, hi int64) *harvester {
		n := hi - lo + 1
		return &harvester{dense: true, lo: lo, hi: hi, set: &IdentitySet{min: lo, hs: make([][16]byte, n), present: make([]uint64, (n+63)/64)}}
	}
	newSparse := func(limit int64) *harvester { return &harvester{set: &IdentitySet{}, limit: limit} }
	for _, c := range []struct {
		name string
		hv   *harvester
		ids  []int64
		ok   bool
	}{
		{"dense", newDense(-2, 5), []int64{5, -2, 0, 3}, true},
		{"dense, an id twice", newDense(-2, 5), []int64{5, -2, 5}, false},
		{"dense, below the range", newDense(-2, 5), []int64{-3}, false},
		{"dense, above the range", newDense(-2, 5), []int64{6}, false},
		{"sparse", newSparse(1 << 20), []int64{9223372036854775807, -9223372036854775808, 0}, true},
		{"sparse, an id twice", newSparse(1 << 20), []int64{7, -1, 7}, false},
		{"sparse, past the budget", newSparse(24 * 2), []int64{1, 2, 3}, false},
	} {
		var got *IdentitySet
		c.hv.done = func(s *IdentitySet) { got = s }
		for k, id := range c.ids {
			c.hv.add(id, [16]byte{byte(k + 1)})
		}
		c.hv.finish()
		if (got != nil) != c.ok {
			t.Errorf("%s: set handed over %v, want %v (failed: %q)", c.name, got != nil, c.ok, c.hv.failed)
			continue
		}
		if got == nil {
			continue
		}
		if got.Len() != int64(len(c.ids)) {
			t.Errorf("%s: %d identities, want %d", c.name, got.Len(), len(c.ids))
		}
		for k, id := range c.ids {
			if h, ok := got.Lookup(id); !ok || h != [16]byte{byte(k + 1)} {
				t.Errorf("%s: id %d: %x %v", c.name, id, h, ok)
			}
		}
		if _, ok := got.Lookup(1); ok {
			t.Errorf("%s: id 1 found", c.name)
		}
	}
	// A sparse set growing past its first slices: the old and the new live together while it is
	// copied, within the budget.
	const limit = 3000 * 24
	hv := newSparse(limit)
	for id := int64(0); id < 1025; id++ {
		hv.add(id*7, [16]byte{})
	}
	if hv.failed != "" || (1024+cap(hv.set.ids))*24 > limit {
		t.Errorf("sparse growth: failed %q, %d ids of room after 1024 (budget %d bytes)", hv.failed, cap(hv.set.ids), limit)
	}
}
