package edmsgen

// SetRowProbe has Generate call f between its steps and every `every` rows it writes, until the
// returned function is called.
func SetRowProbe(every int, f func()) (restore func()) {
	old := rowProbe
	rowProbe.every, rowProbe.f = every, f
	return func() { rowProbe = old }
}
