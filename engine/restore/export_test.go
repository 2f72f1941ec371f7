package restore

// SetMaxHeldIdentityBytes sets the landing proof's budget of identities held in memory for a
// test; the returned function puts it back.
func SetMaxHeldIdentityBytes(n int64) func() {
	prev := maxHeldIdentityBytes
	maxHeldIdentityBytes = n
	return func() { maxHeldIdentityBytes = prev }
}
