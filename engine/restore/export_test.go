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
