// Package procstat reads this process's (or a child's) resource accounting from Linux's /proc:
// peak and current resident set size and the bytes moved through system calls. It is how the
// project measures the memory promise (the budget ledger in spill is a plan, VmHWM is the
// measurement) and reports I/O; it is not part of the proving library's API.
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakRSS returns this process's peak resident set size (VmHWM) in bytes.
func PeakRSS() (int64, error) { return statusField("VmHWM:") }

// CurrentRSS returns this process's resident set size (VmRSS) in bytes.
func CurrentRSS() (int64, error) { return statusField("VmRSS:") }

// ProcessRSS returns the VmRSS and VmHWM of another process (for samplers of child runs).
func ProcessRSS(pid int) (rss, hwm int64, err error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	rss, err = statusFieldOf(path, "VmRSS:")
	if err != nil {
		return 0, 0, err
	}
	hwm, err = statusFieldOf(path, "VmHWM:")
	return rss, hwm, err
}

func statusField(key string) (int64, error) { return statusFieldOf("/proc/self/status", key) }

func statusFieldOf(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key) {
			fs := strings.Fields(line[len(key):])
			if len(fs) < 1 {
				break
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, key)
}

// IO returns the bytes this process read and wrote through system calls (rchar and wchar of
// /proc/self/io): what a run moved, whether the page cache served it or the disk. Both are 0
// when /proc/self/io cannot be read.
func IO() (read, written int64) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, 0
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
			read = n
		case "wchar":
			written = n
		}
	}
	return read, written
}
