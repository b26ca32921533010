package kernels

import (
	"math"
	"strings"
	"testing"

	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/tensorstore"
)

// refRMSNorm is the plain reference, with the reciprocal square root searched by float and fixed
// by the defining inequalities.
func refRMSNorm(x, gamma []int64, rows, D, shift int, eps int64) []int64 {
	y := make([]int64, len(x))
	for r := 0; r < rows; r++ {
		row := x[r*D : (r+1)*D]
		var v int64
		for _, e := range row {
			v += e * e
		}
		V := v + eps*int64(D)
		C := int64(D) << 30
		rho := int64(math.Sqrt(float64(C) / float64(V)))
		for rho*rho*V > C {
			rho--
		}
		for (rho+1)*(rho+1)*V <= C {
			rho++
		}
		for j, e := range row {
			y[r*D+j] = int64(math.Floor(float64(e*rho*gamma[j]) / math.Ldexp(1, shift)))
		}
	}
	return y
}

// normModel: x → rmsnorm(γ) → y (advice) → linear → z (output).
func normModel(t testing.TB, rows, D, shift int, eps int64) (*model, []int64) {
	m := newModel(t, uint64(rows*31+D))
	m.data("x", gkr.Input, []int{rows, D}, tensorstore.Int8)
	m.data("gamma", gkr.Weight, []int{D}, tensorstore.Int8)
	m.data("w", gkr.Weight, []int{3, D}, tensorstore.Int8)
	k, err := NewRMSNorm("norm", "x", "gamma", "y", shift, 16, eps)
	if err != nil {
		t.Fatal(err)
	}
	m.advice(k)
	m.node(NewLinear("fc", "y", "w", "", "z"), []int{rows, 3}, true)
	m.forward()
	return m, m.values("x")
}

func TestRMSNormCompleteness(t *testing.T) {
	for _, c := range []struct {
		rows, D, shift int
		eps            int64
	}{{3, 5, 12, 1}, {1, 7, 10, 3}, {5, 16, 12, 1}, {4, 33, 13, 100}} {
		m, x := normModel(t, c.rows, c.D, c.shift, c.eps)
		want := refRMSNorm(x, m.values("gamma"), c.rows, c.D, c.shift, c.eps)
		got := m.values("y")
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%+v: y[%d] = %d, want %d", c, i, got[i], want[i])
			}
		}
		if err := m.proveVerify(0); err != nil {
			t.Fatalf("%+v: honest proof rejected: %v", c, err)
		}
	}
}

// A wrong normalisation (ρ one off in a row, every value derived from it recomputed and every
// lookup kept consistent) and a wrong output are rejected.
func TestRMSNormSoundness(t *testing.T) {
	const rows, D, shift = 3, 5, 12
	for _, what := range []string{"ρ one below the floor", "ρ one above the floor", "one output +1"} {
		m, x := normModel(t, rows, D, shift, 1)
		k := m.kerns[0].(*Norm)
		gamma := m.values("gamma")
		y, rem := m.values("y"), m.values(k.rem())
		if what == "one output +1" {
			y[4]++
			rem[4] -= 1 << shift // keep x·ρ·γ = 2^shift·y + rem: only rem's range breaks
			if rem[4] < 0 {
				rem[4] += 1 << shift
				y[4]--
				y[5]++ // fall back to a plain wrong value elsewhere
			}
		} else {
			const r = 1
			rhoV := m.values(k.rowLimbs()[0])
			d := int64(-1)
			if what == "ρ one above the floor" {
				d = 1
			}
			rhoV[r] += d
			m.replaceTensor(k.rowLimbs()[0], rhoV)
			for j := 0; j < D; j++ {
				tv := x[r*D+j] * rhoV[r] * gamma[j]
				y[r*D+j] = tv >> shift
				rem[r*D+j] = tv - y[r*D+j]<<shift
			}
		}
		m.replaceTensor("y", y)
		m.replaceTensor(k.rem(), rem)
		recount(m, &k.elem)
		recount(m, &k.row)
		m.forwardFrom("fc")
		err := m.proveVerify(0)
		reject(t, what, err)
	}
}

// recount rewrites a lookup's multiplicities from its tensors as they are (a cheating prover
// keeping the lookups consistent), one tensor per table group summing its lookups' counts; the
// tables are ranges [lo, hi) with row = value − lo. A value outside the table has no row to
// count it: it is left out (the lookup itself must then fail).
func recount(m *model, c *lookupCore) {
	m.t.Helper()
	for _, grp := range c.groups() {
		mult := make([]int64, 1<<grp.tab.logSize)
		lo := grp.tab.cols[0].at(0)
		for _, A := range grp.args {
			name := c.tensors[c.args[A].cols[0][0].t]
			vals := m.values(name)
			for _, v := range vals {
				if v-lo >= 0 && v-lo < int64(len(mult)) {
					mult[v-lo]++
				}
			}
			mult[grp.tab.zeroRow] += int64(1)<<m.graph.Tensors[name].NumVars() - int64(len(vals))
		}
		m.replaceTensor(grp.mult, mult)
	}
}

// The row lookups share one table and one multiplicity tensor: a limb raised by 2^16 with the
// next limb one lower (the same a, so the inequalities still hold) is out of the shared table,
// and is rejected by it though every other count is right.
func TestNormSharedTableSoundness(t *testing.T) {
	const rows, D, shift = 3, 5, 12
	m, _ := normModel(t, rows, D, shift, 1)
	k := m.kerns[0].(*Norm)
	if g := k.row.groups(); len(g) != 1 || len(g[0].args) != len(k.rowLimbs()) {
		t.Fatalf("row lookups in %d table groups, want one of %d", len(g), len(k.rowLimbs()))
	}
	if err := m.proveVerify(0); err != nil {
		t.Fatalf("honest proof: %v", err)
	}
	limbs := k.rowLimbs()
	lo, hi := m.values(limbs[1]), m.values(limbs[2])
	r := -1
	for i := range hi {
		if hi[i] > 0 {
			r = i
		}
	}
	if r < 0 {
		t.Fatal("no row with a non-zero second limb: the test says nothing")
	}
	lo[r] += 1 << 16
	hi[r]--
	m.replaceTensor(limbs[1], lo)
	m.replaceTensor(limbs[2], hi)
	recount(m, &k.row)
	err := m.proveVerify(0)
	reject(t, "a limb 2^16 out of range with the next one lowered", err)
	if !strings.Contains(err.Error(), "not in the table") {
		t.Fatalf("rejected for another reason: %v", err)
	}
}
