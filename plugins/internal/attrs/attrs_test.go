package attrs

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	a := map[string]string{"n": "7", "bad": "x", "big": "99", "f": "0.25", "nan": "NaN"}
	n := 1
	if err := Int(a, "n", 1, 10, &n); err != nil || n != 7 {
		t.Fatalf("n = %d, %v", n, err)
	}
	if err := Int(a, "absent", 1, 10, &n); err != nil || n != 7 {
		t.Fatalf("absent changed n to %d (%v)", n, err)
	}
	for _, k := range []string{"bad", "big"} {
		if err := Int(a, k, 1, 10, &n); err == nil || !strings.HasPrefix(err.Error(), k+` = "`) || n != 7 {
			t.Errorf("%s: %v, n %d", k, err, n)
		}
	}
	f := 0.5
	if err := Float(a, "f", 0, 1, &f); err != nil || f != 0.25 {
		t.Fatalf("f = %v, %v", f, err)
	}
	if err := Float(a, "nan", 0, 1, &f); err == nil || !strings.Contains(err.Error(), "0..1") || f != 0.25 {
		t.Errorf("NaN accepted: %v, f %v", err, f)
	}
}
