package kernels

import (
	"fmt"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/sumcheck"
)

// convProveBytes is the RAM the prove step reserves: W_ω and Z, the plane buffer, the phase-2
// plane and predicate table, the row-pass table T and the eq tables.
func (cg convGeom) proveBytes() int64 {
	eqs := int64(1)<<cg.lgN + int64(1)<<cg.lgC + int64(1)<<cg.lgHo + int64(1)<<cg.lgWo + int64(1)<<cg.lgKg + 2*(int64(1)<<cg.lgH+int64(1)<<cg.lgW)
	return (2*cg.phase1Len() + 3*cg.planeLen() + int64(cg.h)<<cg.lgKw + int64(1)<<(cg.lgKh+cg.lgKw) + eqs) * field.Bytes
}

// Prove reduces the claim on Y to claims on X, W and the bias (see Conv2D).
func (k *Conv2D) Prove(pc *gkr.ProveCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return k.protocol(pc.Party(), out)
}

// Verify checks the kernel's messages and returns the claims on X, W and the bias.
func (k *Conv2D) Verify(vc *gkr.VerifyCtx, out []gkr.Claim) ([]gkr.Claim, error) {
	return k.protocol(vc.Party(), out)
}

// protocol is the kernel's messages, written once for both sides: the bias value, the phase-1
// sumcheck over (v, u, c, g), the phase-2 sumcheck over the input plane.
func (k *Conv2D) protocol(p *gkr.Party, out []gkr.Claim) ([]gkr.Claim, error) {
	cg, err := k.geom(p.Graph())
	if err != nil {
		return nil, err
	}
	if pc := p.Prover(); pc != nil && pc.Budget() != nil {
		n := cg.proveBytes()
		if err := pc.Budget().Reserve("conv tables of "+k.name, n); err != nil {
			return nil, fmt.Errorf("node %s: %w", k.name, err)
		}
		defer pc.Budget().Release(n)
	}
	zeta, eta, omega, beta := cg.split(out[0].Point)
	var bv field.Element
	if k.bias != "" {
		var err error
		if bv, err = p.Value("conv2d/bias", k.bias, omega); err != nil {
			return nil, fmt.Errorf("node %s: bias: %w", k.name, err)
		}
	}
	sc1 := cg.phase1(cg.target(out[0].Value, zeta, eta, beta, bv), omega)
	pt1, fin1, err := p.Sumcheck(sc1, func() ([]field.Source, error) {
		pc := p.Prover()
		wOmega, err := k.foldWeight(pc, cg, omega)
		if err != nil {
			return nil, err
		}
		z, err := k.tapSums(pc, cg, zeta, eta, beta)
		if err != nil {
			return nil, err
		}
		return []field.Source{field.SliceSource(wOmega), field.SliceSource(z)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: phase 1: %w", k.name, err)
	}
	sc2 := &sumcheck.Claim{NumVars: cg.lgH + cg.lgW, Gate: sumcheck.Product(2), Sum: fin1[1]}
	pt2, fin2, err := p.Sumcheck(sc2, func() ([]field.Source, error) {
		plane, err := k.inputPlane(p.Prover(), cg, pt1[cg.lgKw+cg.lgKh:], beta)
		if err != nil {
			return nil, err
		}
		pred := cg.planePredicate(k, eta, zeta, pt1[cg.lgKw:cg.lgKw+cg.lgKh], pt1[:cg.lgKw])
		return []field.Source{field.SliceSource(plane), field.SliceSource(pred)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: phase 2: %w", k.name, err)
	}
	return k.inClaims(cg, pt1, fin1, pt2, fin2, zeta, eta, omega, beta, bv)
}

// foldWeight streams W once: W_ω[g, i] = Σ_j eq(ω_j, j)·W[g·K_g + j, i] for the R = C_g·kh·kw
// (padded) entries i of a row.
func (k *Conv2D) foldWeight(pc *gkr.ProveCtx, cg convGeom, omega []field.Element) ([]field.Element, error) {
	src, err := pc.Source(k.w)
	if err != nil {
		return nil, err
	}
	st, err := src.Open()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rowLen := 1 << (cg.lgCg + cg.lgKh + cg.lgKw)
	eqj := field.EqTable(make([]field.Element, 1<<cg.lgKg), omega[:cg.lgKg])
	acc := make([]field.Element, cg.phase1Len())
	row := make([]field.Element, rowLen)
	for o := 0; o < cg.k; o++ {
		if err := field.ReadFull(st, row); err != nil {
			return nil, fmt.Errorf("node %s: weight %q row %d: %w", k.name, k.w, o, err)
		}
		j, g := o&(1<<cg.lgKg-1), o>>cg.lgKg
		dst := acc[g*rowLen : (g+1)*rowLen]
		e := eqj[j]
		for i := range row {
			var t field.Element
			t.Mul(&row[i], &e)
			dst[i].Add(&dst[i], &t)
		}
	}
	return acc, nil
}

// convRun holds one axis's valid (output, tap) → input index pairs.
type convRun struct{ out, tap, in int }

// axisTaps lists, for one axis, every (output position < outLen, tap < k) whose input index
// s·o + d·t − p lies in [0, inLen).
func axisTaps(outLen, k, stride, dil, pad, inLen int) []convRun {
	var r []convRun
	for t := 0; t < k; t++ {
		for o := 0; o < outLen; o++ {
			if x := stride*o + dil*t - pad; x >= 0 && x < inLen {
				r = append(r, convRun{out: o, tap: t, in: x})
			}
		}
	}
	return r
}

// tapSums streams X once, plane by plane, and returns
// Z[ch,u,v] = Σ_b eq(β,b) Σ_{h,w} eq(η,h)·eq(ζ,w)·X[b,ch,s·h+d·u−p, s·w+d·v−p],
// computed separably: T[x_h, v] = Σ_w eq(ζ,w)·X[x_h, s·w+d·v−p] along the rows, then
// Σ_h eq(η,h)·T[s·h+d·u−p, v] down the columns.
func (k *Conv2D) tapSums(pc *gkr.ProveCtx, cg convGeom, zeta, eta, beta []field.Element) ([]field.Element, error) {
	eqB := field.EqTable(make([]field.Element, 1<<cg.lgN), beta)
	eqH := field.EqTable(make([]field.Element, 1<<cg.lgHo), eta)
	eqW := field.EqTable(make([]field.Element, 1<<cg.lgWo), zeta)
	rowTaps := axisTaps(cg.ho, cg.kh, k.a.StrideH, k.a.DilH, k.a.PadTop, cg.h)
	colTaps := axisTaps(cg.wo, cg.kw, k.a.StrideW, k.a.DilW, k.a.PadLeft, cg.w)
	kwp, khp := 1<<cg.lgKw, 1<<cg.lgKh
	wp := 1 << cg.lgW
	z := make([]field.Element, cg.phase1Len())
	tt := make([]field.Element, cg.h*kwp)
	zp := make([]field.Element, khp*kwp)
	workers := workersFor(int64(cg.h*len(colTaps)), pc.Opt.Workers)
	err := k.eachPlane(pc, cg, func(b, ch int, plane []field.Element) {
		for i := range tt {
			tt[i] = field.Element{}
		}
		field.Parallel(cg.h, workers, func(s, e int) {
			for xh := s; xh < e; xh++ {
				row := plane[xh*wp : (xh+1)*wp]
				trow := tt[xh*kwp : (xh+1)*kwp]
				for _, r := range colTaps {
					var t field.Element
					t.Mul(&row[r.in], &eqW[r.out])
					trow[r.tap].Add(&trow[r.tap], &t)
				}
			}
		})
		for i := range zp {
			zp[i] = field.Element{}
		}
		for _, r := range rowTaps {
			trow := tt[r.in*kwp : (r.in+1)*kwp]
			zr := zp[r.tap*kwp : (r.tap+1)*kwp]
			for v := 0; v < cg.kw; v++ {
				var t field.Element
				t.Mul(&trow[v], &eqH[r.out])
				zr[v].Add(&zr[v], &t)
			}
		}
		dst := z[ch*khp*kwp : (ch+1)*khp*kwp]
		for i := range zp {
			var t field.Element
			t.Mul(&zp[i], &eqB[b])
			dst[i].Add(&dst[i], &t)
		}
	})
	return z, err
}

// eachPlane streams X's real planes (b < N, ch < C) in order, each as H_p·W_p field elements
// (padded row stride), and calls fn for it; fn must not keep the plane.
func (k *Conv2D) eachPlane(pc *gkr.ProveCtx, cg convGeom, fn func(b, ch int, plane []field.Element)) error {
	src, err := pc.Source(k.x)
	if err != nil {
		return err
	}
	st, err := src.Open()
	if err != nil {
		return err
	}
	defer st.Close()
	plane := make([]field.Element, cg.planeLen())
	for b := 0; b < cg.n; b++ {
		for ch := 0; ch < 1<<cg.lgC; ch++ {
			if err := field.ReadFull(st, plane); err != nil {
				return fmt.Errorf("node %s: input %q plane (%d, %d): %w", k.name, k.x, b, ch, err)
			}
			if ch < cg.c {
				fn(b, ch, plane)
			}
		}
	}
	return nil
}

// inputPlane streams X again: X_{β,γ}[x_h, x_w] = Σ_{b,ch} eq(β,b)·eq(γ,ch)·X[b,ch,x_h,x_w].
func (k *Conv2D) inputPlane(pc *gkr.ProveCtx, cg convGeom, gamma, beta []field.Element) ([]field.Element, error) {
	eqB := field.EqTable(make([]field.Element, 1<<cg.lgN), beta)
	eqC := field.EqTable(make([]field.Element, 1<<cg.lgC), gamma)
	acc := make([]field.Element, cg.planeLen())
	workers := workersFor(cg.planeLen(), pc.Opt.Workers)
	err := k.eachPlane(pc, cg, func(b, ch int, plane []field.Element) {
		var e field.Element
		e.Mul(&eqB[b], &eqC[ch])
		field.Parallel(len(acc), workers, func(s, t int) {
			for i := s; i < t; i++ {
				var m field.Element
				m.Mul(&plane[i], &e)
				acc[i].Add(&acc[i], &m)
			}
		})
	})
	return acc, err
}

// planePredicate returns Ŝ_η(x_h)·Ŝ_ζ(x_w) over the padded input plane, where
// Ŝ_η(x) = Σ eq(η,h)·eq(μ,u) over the taps (h < Ho, u < kh) with s·h + d·u − p = x, for every
// x < H_p (taps landing in the zero padding rows [H, H_p) count too: the predicate's MLE is
// defined on all Boolean x).
func (cg convGeom) planePredicate(k *Conv2D, eta, zeta, mu, nu []field.Element) []field.Element {
	side := func(out []field.Element, outEq, tapEq []field.Element, outLen, kk, stride, dil, pad int) {
		for _, r := range axisTaps(outLen, kk, stride, dil, pad, len(out)) {
			var t field.Element
			t.Mul(&outEq[r.out], &tapEq[r.tap])
			out[r.in].Add(&out[r.in], &t)
		}
	}
	sh := make([]field.Element, 1<<cg.lgH)
	sw := make([]field.Element, 1<<cg.lgW)
	side(sh, field.EqTable(make([]field.Element, 1<<cg.lgHo), eta), field.EqTable(make([]field.Element, 1<<cg.lgKh), mu),
		cg.ho, cg.kh, k.a.StrideH, k.a.DilH, k.a.PadTop)
	side(sw, field.EqTable(make([]field.Element, 1<<cg.lgWo), zeta), field.EqTable(make([]field.Element, 1<<cg.lgKw), nu),
		cg.wo, cg.kw, k.a.StrideW, k.a.DilW, k.a.PadLeft)
	p := make([]field.Element, cg.planeLen())
	for xh := range sh {
		row := p[xh*len(sw) : (xh+1)*len(sw)]
		for xw := range sw {
			row[xw].Mul(&sh[xh], &sw[xw])
		}
	}
	return p
}
