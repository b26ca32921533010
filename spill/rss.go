package spill

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
