package kernels

import (
	"io"
	"math/rand/v2"
	"testing"

	"github.com/streamprove/streamprove/field"
)

// The tee serves the even and odd halves correctly whatever the order and sizes of the reads.
func TestTeeHalves(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	const n = 1 << 17
	src := make(field.SliceSource, n)
	for i := range src {
		src[i].SetUint64(uint64(i))
	}
	for trial, pattern := range []string{"lockstep", "even-first", "odd-first", "random", "random", "solo-even"} {
		pair := newTeePair(src)
		srcs := [2]field.Source{}
		srcs[0], srcs[1] = pair.halves()
		for pass := 0; pass < 2; pass++ {
			var st [2]field.Stream
			for h := 0; h < 2; h++ {
				if pattern == "solo-even" && h == 1 {
					continue
				}
				s, err := srcs[h].Open()
				if err != nil {
					t.Fatal(err)
				}
				st[h] = s
			}
			pos := [2]int{}
			read := func(h, k int) {
				buf := make([]field.Element, k)
				got, err := st[h].Next(buf)
				if err == io.EOF {
					if pos[h] != n/2 {
						t.Fatalf("%s: half %d ended at %d", pattern, h, pos[h])
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < got; i++ {
					if want := uint64(2*(pos[h]+i) + h); !buf[i].IsUint64() || buf[i].Uint64() != want {
						t.Fatalf("%s trial %d pass %d: half %d element %d is wrong", pattern, trial, pass, h, pos[h]+i)
					}
				}
				pos[h] += got
			}
			for pos[0] < n/2 || (st[1] != nil && pos[1] < n/2) {
				switch pattern {
				case "lockstep":
					read(0, 4096)
					read(1, 4096)
				case "even-first", "solo-even":
					if pos[0] < n/2 {
						read(0, 3000)
					} else {
						read(1, 5000)
					}
				case "odd-first":
					if pos[1] < n/2 {
						read(1, 7000)
					} else {
						read(0, 1000)
					}
				default:
					h := rng.IntN(2)
					if pos[h] >= n/2 {
						h = 1 - h
					}
					read(h, 1+rng.IntN(9000))
				}
			}
			for _, s := range st {
				if s != nil {
					s.Close()
				}
			}
		}
	}
}
