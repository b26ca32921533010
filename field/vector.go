package field

import "github.com/consensys/gnark-crypto/ecc/bn254/fr"

// Vector is a slice of elements with the backend's vectorised arithmetic, each writing into its
// receiver: Add, Sub, Mul, ScalarMul, InnerProduct, Sum. Convert with Vector(s) from a
// []Element; nothing is copied. It is an alias, like Element, so the backend's assembly methods
// apply without a wrapper per call; code outside field names only field.Vector, and a second
// backend changes this line.
type Vector = fr.Vector

// BatchInvert returns the inverses of a (a zero stays zero) at the cost of one inversion and
// three multiplications per element (Montgomery's trick).
func BatchInvert(a []Element) []Element { return fr.BatchInvert(a) }
