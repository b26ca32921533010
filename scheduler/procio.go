package scheduler

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

type ioCounts struct{ read, written int64 }

// readIO returns the bytes this process read and wrote through system calls (rchar/wchar of
// /proc/self/io): what the run moved, whether the page cache served it or the disk.
func readIO() ioCounts {
	var c ioCounts
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return c
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "rchar":
			c.read = n
		case "wchar":
			c.written = n
		}
	}
	return c
}
