package scheduler

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestOutputJSON: every value nested by shape, the scale and the dequantized floats; read back
// flat; argmax per row.
func TestOutputJSON(t *testing.T) {
	o := &Output{Shape: []int{2, 3}, Scale: 0.5, Values: []string{"1", "-4", "3", "7", "0", "-2"}}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"shape":[2,3],"scale":0.5,"values":[[1,-4,3],[7,0,-2]],"dequantized":[[0.5,-2,1.5],[3.5,0,-1]]}`
	if string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	var back Output
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Values, o.Values) || !slices.Equal(back.Shape, o.Shape) || back.Scale != 0.5 {
		t.Fatalf("read back %+v (%v)", back, err)
	}
	if am, ok := o.ArgmaxRows(); !ok || !slices.Equal(am, []int{2, 0}) {
		t.Fatalf("argmax %v %v", am, ok)
	}
	plain := &Output{Shape: []int{3}, Values: []string{"1", "2", "3"}}
	if b, _ := json.Marshal(plain); string(b) != `{"shape":[3],"values":[1,2,3]}` {
		t.Fatalf("an output without a scale: %s", b)
	}
}
