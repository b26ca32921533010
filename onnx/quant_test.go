package onnx

import (
	"math"
	"path/filepath"
	"testing"
)

// TestDigitsQuantized: int8 post-training quantization of the digits MLP and CNN, calibrated on
// the 128 committed samples, on the 450 test images: accuracy within 1.5 points of the float
// model's, argmax agreement ≥ 97%. Both calibration methods are measured; max-abs is the default.
func TestDigitsQuantized(t *testing.T) {
	labels, err := ReadNPY(filepath.Join(digitsDir, "test_y.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mlp", "cnn"} {
		m, x, _ := loadDigits(t, name)
		calib, err := ReadNPY(filepath.Join(digitsDir, name+"_calib.npy"))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			label string
			opt   QuantOptions
		}{
			{"max-abs", QuantOptions{}},
			{"p99.99", QuantOptions{Method: Percentile, Percentile: 99.99}},
			{"p99.9", QuantOptions{Method: Percentile, Percentile: 99.9}},
		} {
			q, err := Quantize(m, calib, c.opt)
			if err != nil {
				t.Fatalf("%s %s: %v", name, c.label, err)
			}
			calAgree, _, _, err := q.Compare(calib)
			if err != nil {
				t.Fatal(err)
			}
			a, f, d, err := q.Compare(x)
			if err != nil {
				t.Fatal(err)
			}
			fAcc, qAcc := accuracy(f, labels.I), accuracy(d, labels.I)
			t.Logf("%s %-7s: float acc %.4f, int8 acc %.4f, argmax agreement %.4f (calibration %.4f), max |Δlogit| %.3g (calibration %.3g); %d ops",
				name, c.label, fAcc, qAcc, a.ArgmaxAgree, calAgree.ArgmaxAgree, a.MaxAbsErr, calAgree.MaxAbsErr, len(q.Ops))
			if c.opt.Method != MaxAbs {
				continue
			}
			if math.Abs(fAcc-qAcc) > 0.015 || a.ArgmaxAgree < 0.97 {
				t.Errorf("%s: int8 accuracy %.4f vs float %.4f, agreement %.4f", name, qAcc, fAcc, a.ArgmaxAgree)
			}
		}
	}
}

func accuracy(logits *Tensor, labels []int64) float64 {
	am := argmaxRows(logits)
	ok := 0
	for i, a := range am {
		if int64(a) == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(am))
}

// TestRoundShift: the fixed-point rescale rounds half to even, symmetrically, exactly in 128 bits.
func TestRoundShift(t *testing.T) {
	for _, c := range []struct {
		x, m  int64
		shift int
		want  int64
	}{
		{5, 1, 1, 2}, {7, 1, 1, 4}, {-5, 1, 1, -2}, {-7, 1, 1, -4}, {6, 1, 2, 2}, {10, 1, 2, 2}, {-10, 1, 2, -2},
		{1 << 40, 1<<31 - 1, 62, (1<<40*(1<<31-1) + 1<<61) >> 62}, {3, 3, 2, 2},
	} {
		got, ok := roundShift(c.x, c.m, c.shift)
		if !ok || got != c.want {
			t.Errorf("round(%d·%d/2^%d) = %d (%v), want %d", c.x, c.m, c.shift, got, ok, c.want)
		}
	}
	if _, ok := roundShift(math.MaxInt64, math.MaxInt64, 1); ok {
		t.Error("an overflowing product was accepted")
	}
}
