package restore

// SetMaxHeldIdentityBytes sets the landing proof's budget of identities held in memory for a
// test; the returned function puts it back.
func SetMaxHeldIdentityBytes(n int64) func() {
	prev := maxHeldIdentityBytes
	maxHeldIdentityBytes = n
	return func() { maxHeldIdentityBytes = prev }
}

// SetMaxHeldMapEntries sets the budget of id map pairs held in memory (held.go) for a test; the
// returned function puts it back.
func SetMaxHeldMapEntries(n int64) func() {
	prev := maxHeldMapEntries
	maxHeldMapEntries = n
	return func() { maxHeldMapEntries = prev }
}

// SetHeldMapHook has f see (and change) each id map held in memory (held.go) as it is read; the
// returned function takes it away.
func SetHeldMapHook(f func(table string, src, tgt []int64)) func() {
	heldMapHook = f
	return func() { heldMapHook = nil }
}
