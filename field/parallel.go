package field

import (
	"runtime"
	"sync"
)

// Parallel splits [0, n) into at most workers contiguous ranges and runs fn on each, waiting for
// all. Ranges are fixed by (n, workers), so a caller that combines per-range results in range
// order gets the same answer for any scheduling. workers ≤ 0 means GOMAXPROCS.
func Parallel(n, workers int, fn func(start, end int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for start := 0; start < n; start += per {
		end := start + per
		if end > n {
			end = n
		}
		wg.Add(1)
		go func(s, e int) {
			defer wg.Done()
			fn(s, e)
		}(start, end)
	}
	wg.Wait()
}
