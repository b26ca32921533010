package field

// IntStream yields the values of an IntSource in index order, in the Next(buf) shape of Stream:
// Next fills buf with up to len(buf) of the next values and returns how many it wrote, and
// (0, io.EOF) once the stream is exhausted.
type IntStream interface {
	Next(buf []int64) (int, error)
	Close() error
}

// IntSource is a Source whose elements are small integers (a quantized tensor): OpenInts yields
// the same vector as Open, as native integers, each in [−2^(Bits−1), 2^(Bits−1)). A prover uses it
// to run its first rounds in integer arithmetic (the small-value optimisation, DESIGN §7.1)
// without materialising field elements. A stream that yields a value outside the range is an
// error, not a wrong answer.
type IntSource interface {
	Source
	Bits() int
	OpenInts() (IntStream, error)
}
