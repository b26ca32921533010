package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPeakRSS(t *testing.T) {
	rss, err := CurrentRSS()
	if err != nil {
		t.Fatal(err)
	}
	hwm, err := PeakRSS()
	if err != nil || hwm <= 0 {
		t.Fatalf("PeakRSS = %d, %v", hwm, err)
	}
	if rss <= 0 || rss > hwm {
		t.Fatalf("CurrentRSS = %d (peak %d)", rss, hwm)
	}
	prss, phwm, err := ProcessRSS(os.Getpid())
	if err != nil || prss <= 0 || phwm < hwm {
		t.Fatalf("ProcessRSS(self) = %d, %d, %v (peak read before: %d)", prss, phwm, err, hwm)
	}
}

// TestIO: writing a file through system calls moves IO's written counter by at least its size.
func TestIO(t *testing.T) {
	_, w0 := IO()
	data := make([]byte, 1<<20)
	if err := os.WriteFile(filepath.Join(t.TempDir(), "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, w1 := IO()
	if w1-w0 < int64(len(data)) {
		t.Fatalf("IO written moved by %d after writing %d bytes", w1-w0, len(data))
	}
}
