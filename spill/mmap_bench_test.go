package spill

import (
	"fmt"
	"os"
	"testing"
	"unsafe"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/internal/procstat"
)

// The measurement behind "spill files are read with pread, not mmapped" (doc.go, README): one
// pass of a sumcheck fold over a spilled table, a[i] = a[2i] + r·(a[2i+1] − a[2i]) written to the
// table's front, reading the table either with pread into a reused window buffer (what Table
// does) or in place from an mmap-go mapping of the same window, each window unmapped (its pages
// leave RSS) before the next is mapped; one variant maps the whole file once and drops the pages
// behind the window with MADV_DONTNEED. Writes are pwrite in every variant: a shared writable
// mapping would dirty page-cache pages that count in RSS until written back.
//
//	go test ./spill -run '^$' -bench MmapFold -benchtime 5x
//
// Each sub-benchmark reports wall and CPU (user+system) ns per element and the largest VmRSS
// growth seen at a window boundary (rss_growth_MiB), so speed is compared at the same peak RSS.

const mmapBenchElems = 1 << 22 // 128 MiB as field elements

func BenchmarkMmapFold(b *testing.B) {
	for _, window := range []int{1 << 12, 1 << 16} { // 128 KiB and 2 MiB (the sumcheck's default chunk) of elements
		b.Run(fmt.Sprintf("pread/window=%dKiB", window*32>>10), func(b *testing.B) {
			benchFold(b, window, foldPread)
		})
		b.Run(fmt.Sprintf("mmap-window/window=%dKiB", window*32>>10), func(b *testing.B) {
			benchFold(b, window, foldMmapWindow)
		})
		b.Run(fmt.Sprintf("mmap-whole-dontneed/window=%dKiB", window*32>>10), func(b *testing.B) {
			benchFold(b, window, foldMmapWhole)
		})
	}
}

type foldFunc func(f *os.File, n int64, window int, r field.Element, rss *int64) error

func benchFold(b *testing.B, window int, fold foldFunc) {
	f, err := os.CreateTemp(b.TempDir(), "fold-*.tbl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]field.Element, window)
	var r field.Element
	r.SetUint64(0x9e3779b97f4a7c15)
	b.SetBytes(mmapBenchElems * elemBytes)
	b.ResetTimer()
	var growth, cpu int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Fresh table contents each iteration (a fold overwrites its front half); the page
		// cache holds them, as it does for a table written by the previous round.
		for off := int64(0); off < mmapBenchElems; off += int64(window) {
			for j := range buf {
				buf[j].SetUint64(uint64(off) + uint64(j)*0x100000001b3)
			}
			if _, err := f.WriteAt(asBytes(buf), off*elemBytes); err != nil {
				b.Fatal(err)
			}
		}
		base, _ := procstat.CurrentRSS()
		peak := base
		c0 := cpuNanos()
		b.StartTimer()
		if err := fold(f, mmapBenchElems, window, r, &peak); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuNanos() - c0
		b.StartTimer()
		growth = max(growth, peak-base)
	}
	b.ReportMetric(float64(cpu)/float64(b.N)/mmapBenchElems, "cpu_ns/elem")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mmapBenchElems, "ns/elem")
	b.ReportMetric(float64(growth)/(1<<20), "rss_growth_MiB")
}

// cpuNanos is the process's user+system CPU time: on a machine shared with other work it is a
// steadier measure than wall time.
func cpuNanos() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// foldWindow folds the pairs of in (len even) into out (len(in)/2).
func foldWindow(in, out []field.Element, r *field.Element) {
	for i := range out {
		var d field.Element
		d.Sub(&in[2*i+1], &in[2*i])
		d.Mul(&d, r)
		out[i].Add(&in[2*i], &d)
	}
}

func sampleRSS(peak *int64) {
	if v, err := procstat.CurrentRSS(); err == nil && v > *peak {
		*peak = v
	}
}

func foldPread(f *os.File, n int64, window int, r field.Element, peak *int64) error {
	in := make([]field.Element, window)
	out := make([]field.Element, window/2)
	for off := int64(0); off < n; off += int64(window) {
		if _, err := f.ReadAt(asBytes(in), off*elemBytes); err != nil {
			return err
		}
		foldWindow(in, out, &r)
		if _, err := f.WriteAt(asBytes(out), off/2*elemBytes); err != nil {
			return err
		}
		if off%(1<<18) == 0 {
			sampleRSS(peak)
		}
	}
	return nil
}

func elems(m []byte) []field.Element {
	return unsafe.Slice((*field.Element)(unsafe.Pointer(&m[0])), len(m)/int(elemBytes))
}

func foldMmapWindow(f *os.File, n int64, window int, r field.Element, peak *int64) error {
	out := make([]field.Element, window/2)
	for off := int64(0); off < n; off += int64(window) {
		// window·32 bytes is a multiple of the page size, so every offset is page aligned.
		m, err := mmap.MapRegion(f, window*int(elemBytes), mmap.RDONLY, 0, off*elemBytes)
		if err != nil {
			return err
		}
		foldWindow(elems(m), out, &r)
		if off%(1<<18) == 0 {
			sampleRSS(peak)
		}
		if err := m.Unmap(); err != nil {
			return err
		}
		if _, err := f.WriteAt(asBytes(out), off/2*elemBytes); err != nil {
			return err
		}
	}
	return nil
}

func foldMmapWhole(f *os.File, n int64, window int, r field.Element, peak *int64) error {
	m, err := mmap.MapRegion(f, int(n*elemBytes), mmap.RDONLY, 0, 0)
	if err != nil {
		return err
	}
	defer m.Unmap()
	all := elems(m)
	out := make([]field.Element, window/2)
	for off := int64(0); off < n; off += int64(window) {
		foldWindow(all[off:off+int64(window)], out, &r)
		if off%(1<<18) == 0 {
			sampleRSS(peak)
		}
		// Drop the window's pages from RSS before its front is overwritten by pwrite.
		w := m[off*elemBytes : (off+int64(window))*elemBytes]
		if err := unix.Madvise(w, unix.MADV_DONTNEED); err != nil {
			return err
		}
		if _, err := f.WriteAt(asBytes(out), off/2*elemBytes); err != nil {
			return err
		}
	}
	return nil
}

// TestMmapFoldAgrees checks that the three readers of the benchmark fold to the same table, so
// the benchmark compares equal work.
func TestMmapFoldAgrees(t *testing.T) {
	const n, window = 1 << 12, 1 << 8
	for name, fold := range map[string]foldFunc{"pread": foldPread, "mmap-window": foldMmapWindow, "mmap-whole": foldMmapWhole} {
		f, err := os.CreateTemp(t.TempDir(), "fold-*.tbl")
		if err != nil {
			t.Fatal(err)
		}
		src := make([]field.Element, n)
		for i := range src {
			src[i] = field.NewInt(int64(i*i) - 5)
		}
		if _, err := f.WriteAt(asBytes(src), 0); err != nil {
			t.Fatal(err)
		}
		var r field.Element
		r.SetUint64(12345)
		var peak int64
		if err := fold(f, n, window, r, &peak); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := make([]field.Element, n/2)
		if _, err := f.ReadAt(asBytes(got), 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
		ref := make([]field.Element, n/2)
		foldWindow(src, ref, &r)
		for i := range ref {
			if !got[i].Equal(&ref[i]) {
				t.Fatalf("%s: element %d differs from the in-RAM fold", name, i)
			}
		}
	}
}
