package header

// nameFilter answers "certainly not" for most names a folded-name table
// does not hold, before the name is folded and looked up: one bit per
// (length, first byte, last byte) of the folded names it was built from. A
// request's ordinary headers (Accept, User-Agent, Authorization...) are
// looked up in two tables on every request (the cleaner's kinds, the
// identity headers), so this spares a fold and a map lookup for each.
type nameFilter [16]uint64 // 1024 bits

// filterBit is the bit of a name of length n whose folded first and last
// bytes are first and last.
func filterBit(n int, first, last byte) uint {
	return (uint(n)*131 + uint(first)*31 + uint(last)) & 1023
}

// add records folded, a name as Fold returns it.
func (f *nameFilter) add(folded string) {
	b := filterBit(0, 0, 0)
	if n := len(folded); n > 0 {
		b = filterBit(n, folded[0], folded[n-1])
	}
	f[b>>6] |= 1 << (b & 63)
}

// mayHold reports whether name, in any spelling, may be one that was
// added; false is certain.
func (f *nameFilter) mayHold(name string) bool {
	b := filterBit(0, 0, 0)
	if n := len(name); n > 0 {
		b = filterBit(n, foldByte(name[0]), foldByte(name[n-1]))
	}
	return f[b>>6]&(1<<(b&63)) != 0
}
