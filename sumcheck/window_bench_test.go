package sumcheck

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// BenchmarkFieldWindow weighs two ways to serve three rounds of a product of two field-valued
// tables (a spilled level) with an eq factor, per element and with a copy standing in for the
// read: "pass-pendingJ" is one pass of the streamed prover (fold J pending challenges, evaluate
// the round), "grid" is the small-value schedule run in field arithmetic (one pass accumulating
// the 27 grid points of each window of 8: a product and an eq-weighted inner product each). One
// core; ns/elem is per element of one table. Measured (AMD EPYC, 2 vCPU, shared): pending
// 0/1/2/3 ≈ 23/28/31/32, grid ≈ 72 ns/elem. After a spill of level b the prover runs rounds
// b+1…b+3 as passes with 1, 2, 3 pending (≈ 91); a grid over level b+1 (folding r_b on the fly,
// ≈ 5 + 72/2) then a pass with 4 pending (≈ 32) serves one round more for ≈ 73. That is ~20% of
// the passes over spilled levels, which are ~15% of a 2^28 prove (TestBudgetStore): a few percent
// overall, below this machine's noise, so spilled levels keep one pass per round and only integer
// sources, where the grid is integer arithmetic, get the window.
func BenchmarkFieldWindow(b *testing.B) {
	const C = 1 << 14 // elements per chunk and table
	rng := rand.New(rand.NewPCG(5, 5))
	src := [][]field.Element{randElems(rng, C), randElems(rng, C)}
	r := randElems(rng, 4)
	point := randElems(rng, 20)
	for _, pend := range []int{0, 1, 2, 3} {
		b.Run(fmt.Sprintf("pass-pending%d", pend), func(b *testing.B) {
			pr := &prover{c: &Claim{NumVars: 20, Gate: Product(2), Eq: []EqTerm{{Coeff: field.One(), Point: point}}}, n: 20, k: 2, d: 2, settings: settings{workers: 1, chunkLog: 14}}
			pr.eqC = []field.Element{field.One()}
			ws := newWorkspace(2, 1<<11)
			buf := makeTables(2, C)
			rcs := make([]*roundCtx, 4)
			for j := range rcs {
				rcs[j] = pr.roundCtx(j, min(C>>j/2, 1<<11))
			}
			acc := make([]field.Element, 8)
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				for j := pend; j <= pend; j++ {
					tabs := make([][]field.Element, 2)
					for s := range buf {
						copy(buf[s], src[s]) // the read
						ch := buf[s]
						for i := 0; i < j; i++ {
							half := len(ch) / 2
							for off := 0; off < half; off += 1 << 11 {
								end := min(off+1<<11, half)
								foldBlock(ws.ev[s], ws.od[s], ch[off:end], ch[2*off:2*end], &r[i])
							}
							ch = ch[:half]
						}
						tabs[s] = ch
					}
					rc := rcs[j]
					P := rc.P
					sub := make([][]field.Element, 2)
					for sb := 0; sb < len(tabs[0])/(2*P); sb++ {
						for s := range sub {
							sub[s] = tabs[s][2*sb*P : 2*(sb+1)*P]
						}
						rc.evalBlock(ws, acc, sub, int64(sb))
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/C, "ns/elem")
		})
	}
	b.Run("grid", func(b *testing.B) {
		sv := &smallValue{w: 3, d: 2}
		sv.npts = 27
		sv.stride = []int{1, 3, 9}
		place, ops := sv.plan()
		const Bw = 256 // windows per block
		g := [2][27][]field.Element{}
		for s := range g {
			for u := range g[s] {
				g[s][u] = make([]field.Element, Bw)
			}
		}
		prod := make(field.Vector, Bw)
		tmp := make(field.Vector, Bw)
		wts := randElems(rng, Bw)
		var acc [27]field.Element
		b.ResetTimer()
		for it := 0; it < b.N; it++ {
			for blk := 0; blk < C/8/Bw; blk++ {
				for s := range g {
					in := src[s][blk*Bw*8:]
					for y, p := range place {
						dst := g[s][p]
						for z := range dst {
							dst[z] = in[z*8+y]
						}
					}
					for _, op := range ops {
						a, bb, d := field.Vector(g[s][op.a]), field.Vector(g[s][op.b]), field.Vector(g[s][op.dst])
						tmp.Sub(bb, a)
						d.Add(bb, tmp)
					}
				}
				for u := 0; u < 27; u++ {
					prod.Mul(field.Vector(g[0][u]), field.Vector(g[1][u]))
					v := prod.InnerProduct(field.Vector(wts))
					acc[u].Add(&acc[u], &v)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/C, "ns/elem")
	})
}
