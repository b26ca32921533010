package tensorstore

import (
	"fmt"
	"math"
	"strings"

	"github.com/streamprove/streamprove/field"
)

// DType is the storage type of a tensor's elements: the narrowest that holds its values
// (DESIGN §5). Integers are two's complement little-endian; Field is the canonical little-endian
// 32-byte encoding of a field element.
type DType uint8

// The storage types. The zero value is invalid so that a forgotten dtype is an error.
const (
	Int8 DType = iota + 1
	Int16
	Int32
	Int64
	Field
)

var dtypeNames = [...]string{Int8: "int8", Int16: "int16", Int32: "int32", Int64: "int64", Field: "field"}

// String returns "int8", "int16", "int32", "int64" or "field".
func (d DType) String() string {
	if d.valid() {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType reads a dtype name as printed by String.
func ParseDType(s string) (DType, error) {
	for d, n := range dtypeNames {
		if n != "" && strings.EqualFold(s, n) {
			return DType(d), nil
		}
	}
	return 0, fmt.Errorf("dtype %q: want int8, int16, int32, int64 or field: %w", s, ErrFormat)
}

func (d DType) valid() bool { return d >= Int8 && d <= Field }

// Size returns the bytes one element takes in storage.
func (d DType) Size() int {
	switch d {
	case Int8:
		return 1
	case Int16:
		return 2
	case Int32:
		return 4
	case Int64:
		return 8
	case Field:
		return field.Bytes
	}
	return 0
}

// IsInt reports whether d is an integer dtype.
func (d DType) IsInt() bool { return d >= Int8 && d <= Int64 }

// Bounds returns the range of values an integer dtype holds.
func (d DType) Bounds() (lo, hi int64) {
	switch d {
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Int32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}
