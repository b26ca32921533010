package field

// Int8Stream yields the values of an Int8Source in index order as int8, in the Next(buf) shape
// of Stream: 8× narrower than an IntStream's int64, for passes that index tables by the byte.
type Int8Stream interface {
	Next(buf []int8) (int, error)
	Close() error
}

// Int8Source is an IntSource that can also stream its values as int8. OpenInt8s fails unless
// Bits() is 8; it yields the same vector as Open and OpenInts.
type Int8Source interface {
	IntSource
	OpenInt8s() (Int8Stream, error)
}
