package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Attrs are a node's op-specific attributes, keyed by their graph-file name: in the file they
// are the node object's keys other than op, name, in and out. Go callers write values as Go
// ints, int lists, strings, floats or bools (Attrs{"shift": 8, "strides": []int{2, 2}}); the op's
// schema validates them when the graph is parsed or built.
//
// The accessors read a value as one kind and return the zero value when the key is absent or
// holds another kind. A build function receives its node's attributes validated, with defaults
// filled in, so there they simply return the declared value.
type Attrs map[string]any

// Has reports whether the attribute is set.
func (a Attrs) Has(name string) bool { _, ok := a[name]; return ok }

// Int returns an integer attribute.
func (a Attrs) Int(name string) int { v, _ := toInt64(a[name]); return int(v) }

// Int64 returns an integer attribute as int64.
func (a Attrs) Int64(name string) int64 { v, _ := toInt64(a[name]); return v }

// Int64s returns an integer-list attribute as int64s.
func (a Attrs) Int64s(name string) []int64 { v, _ := toInt64s(a[name]); return slices.Clone(v) }

// Ints returns an integer-list attribute.
func (a Attrs) Ints(name string) []int {
	v, _ := toInt64s(a[name])
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Str returns a string attribute.
func (a Attrs) Str(name string) string { s, _ := a[name].(string); return s }

// Bool returns a boolean attribute.
func (a Attrs) Bool(name string) bool { b, _ := a[name].(bool); return b }

// Float returns a float attribute.
func (a Attrs) Float(name string) float64 { v, _ := toFloat(a[name]); return v }

// attrKind is the type of an attribute's value.
type attrKind uint8

const (
	kindInt attrKind = iota + 1
	kindInts
	kindString
	kindFloat
	kindBool
)

// attrSpec declares one attribute of an op: its key, kind, whether it is required (or its
// default), and the values it may take. Declare one with intAttr, intsAttr, stringAttr,
// floatAttr or boolAttr, then .def(v) for an optional attribute with a default or .optional() for one
// without (the build function asks Has).
type attrSpec struct {
	name     string
	kind     attrKind
	required bool
	dflt     any      // optional attribute's value when absent (nil: none)
	lo, hi   int64    // int, and each element of an int list
	flo, fhi float64  // float
	n        int      // int list: exact length (0: any; the graph's size bounds it)
	oneOf    []string // string: allowed values (empty: any)
}

// intAttr declares a required integer in [lo, hi].
func intAttr(name string, lo, hi int64) attrSpec {
	return attrSpec{name: name, kind: kindInt, required: true, lo: lo, hi: hi}
}

// intsAttr declares a required list of n integers (n = 0: any length, e.g. one per channel),
// each in [lo, hi].
func intsAttr(name string, n int, lo, hi int64) attrSpec {
	return attrSpec{name: name, kind: kindInts, required: true, n: n, lo: lo, hi: hi}
}

// stringAttr declares a required string, one of oneOf when given.
func stringAttr(name string, oneOf ...string) attrSpec {
	return attrSpec{name: name, kind: kindString, required: true, oneOf: oneOf}
}

// floatAttr declares a required finite number in [lo, hi].
func floatAttr(name string, lo, hi float64) attrSpec {
	return attrSpec{name: name, kind: kindFloat, required: true, flo: lo, fhi: hi}
}

// boolAttr declares a required boolean.
func boolAttr(name string) attrSpec { return attrSpec{name: name, kind: kindBool, required: true} }

// def makes the attribute optional with a default (a value of the attribute's kind, checked
// against the schema by TestOpSchemas).
func (s attrSpec) def(v any) attrSpec { s.required, s.dflt = false, v; return s }

// optional makes the attribute optional without a default.
func (s attrSpec) optional() attrSpec { s.required = false; return s }

// check validates one value and returns it normalized (int64, []int64, string, float64 or bool).
func (s attrSpec) check(v any) (any, error) {
	switch s.kind {
	case kindInt:
		x, ok := toInt64(v)
		if !ok {
			return nil, fmt.Errorf("field %q: want an integer, got %s", s.name, describe(v))
		}
		if x < s.lo || x > s.hi {
			return nil, fmt.Errorf("field %q is %d, want %d..%d", s.name, x, s.lo, s.hi)
		}
		return x, nil
	case kindInts:
		xs, ok := toInt64s(v)
		switch {
		case !ok:
			return nil, fmt.Errorf("field %q: want a list of integers, got %s", s.name, describe(v))
		case s.n > 0 && len(xs) != s.n:
			return nil, fmt.Errorf("field %q: want %d integers, got %d", s.name, s.n, len(xs))
		}
		for i, x := range xs {
			if x < s.lo || x > s.hi {
				return nil, fmt.Errorf("field %q[%d] is %d, want %d..%d", s.name, i, x, s.lo, s.hi)
			}
		}
		return xs, nil
	case kindString:
		x, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("field %q: want a string, got %s", s.name, describe(v))
		}
		if len(s.oneOf) > 0 && !slices.Contains(s.oneOf, x) {
			return nil, fmt.Errorf("field %q is %q, want one of %s", s.name, x, strings.Join(s.oneOf, ", "))
		}
		return x, nil
	case kindFloat:
		x, ok := toFloat(v)
		if !ok {
			return nil, fmt.Errorf("field %q: want a number, got %s", s.name, describe(v))
		}
		if math.IsNaN(x) || x < s.flo || x > s.fhi {
			return nil, fmt.Errorf("field %q is %g, want %g..%g", s.name, x, s.flo, s.fhi)
		}
		return x, nil
	case kindBool:
		x, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("field %q: want true or false, got %s", s.name, describe(v))
		}
		return x, nil
	}
	return nil, fmt.Errorf("field %q: attribute of unknown kind %d", s.name, s.kind)
}

// checkNode is the one place a node's arity and attributes are validated against its op's
// schema: required attributes present, every value of its declared kind and range, no key the
// op does not declare. It normalizes n.Attrs in place and returns a copy with defaults filled
// in for the build function.
func (d opDef) checkNode(n *NodeSpec) (Attrs, error) {
	if len(n.In) < d.arity[0] || len(n.In) > d.arity[1] {
		if d.arity[0] == d.arity[1] {
			return nil, fmt.Errorf("field \"in\" has %d tensors, want %d", len(n.In), d.arity[0])
		}
		return nil, fmt.Errorf("field \"in\" has %d tensors, want %d to %d", len(n.In), d.arity[0], d.arity[1])
	}
	for _, k := range sortedKeys(n.Attrs) {
		if !slices.ContainsFunc(d.attrs, func(s attrSpec) bool { return s.name == k }) {
			return nil, fmt.Errorf("field %q does not apply to op %q", k, n.Op)
		}
	}
	out := make(Attrs, len(d.attrs))
	for _, s := range d.attrs {
		v, ok := n.Attrs[s.name]
		if !ok {
			if s.required {
				return nil, fmt.Errorf("field %q is missing", s.name)
			}
			if s.dflt != nil {
				out[s.name], _ = s.check(s.dflt) // valid: TestOpSchemas
			}
			continue
		}
		v, err := s.check(v)
		if err != nil {
			return nil, err
		}
		n.Attrs[s.name] = v
		out[s.name] = v
	}
	return out, nil
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > 40 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case uint:
		return int64(x), uint64(x) <= math.MaxInt64
	case json.Number:
		i, err := x.Int64()
		return i, err == nil
	}
	return 0, false
}

func toInt64s(v any) ([]int64, bool) {
	switch x := v.(type) {
	case []int64:
		return x, true
	case []int:
		out := make([]int64, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out, true
	case []any:
		out := make([]int64, len(x))
		for i, e := range x {
			var ok bool
			if out[i], ok = toInt64(e); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	if i, ok := toInt64(v); ok {
		return float64(i), true
	}
	return 0, false
}

// UnmarshalJSON reads a node object: op, name, in, out, and every other key as an attribute
// (numbers kept exact as json.Number until the op's schema checks them). A null value is
// treated as absent.
func (n *NodeSpec) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*n = NodeSpec{}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		if string(v) == "null" {
			continue
		}
		var err error
		switch k {
		case "op":
			err = json.Unmarshal(v, &n.Op)
		case "name":
			err = json.Unmarshal(v, &n.Name)
		case "out":
			err = json.Unmarshal(v, &n.Out)
		case "in":
			err = json.Unmarshal(v, &n.In)
		default:
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			var a any
			if err = dec.Decode(&a); err == nil {
				if n.Attrs == nil {
					n.Attrs = Attrs{}
				}
				n.Attrs[k] = a
			}
		}
		if err != nil {
			return fmt.Errorf("field %q: %v", k, err)
		}
	}
	return nil
}

// MarshalJSON writes op, name, in, out, then the attributes in key order.
func (n NodeSpec) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	put := func(k string, v any) error {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("node %q: field %q: %w", n.Name, k, err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
		return nil
	}
	put("op", n.Op)
	if n.Name != "" {
		put("name", n.Name)
	}
	put("in", n.In)
	put("out", n.Out)
	for _, k := range sortedKeys(n.Attrs) {
		if k == "op" || k == "name" || k == "in" || k == "out" {
			return nil, fmt.Errorf("node %q: attribute %q shadows a node field", n.Name, k)
		}
		if err := put(k, n.Attrs[k]); err != nil {
			return nil, err
		}
	}
	return append(append([]byte{'{'}, b.Bytes()...), '}'), nil
}
