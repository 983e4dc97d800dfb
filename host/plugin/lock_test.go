package plugin

import (
	"reflect"
	"strings"
	"testing"
)

const (
	shaA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	shaB = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

func TestParseLock(t *testing.T) {
	data := "# a comment\n\nvisual 1.3.0 " + shaA + "  # trailing comment\r\n" +
		"\tvisual\t1.2.0\t" + shaB + "\nacoustic 0.1.0-rc.1 " + shaA + "\n"
	l, err := ParseLock("plugins.lock", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []LockEntry{{"visual", "1.3.0", shaA, 3}, {"visual", "1.2.0", shaB, 4}, {"acoustic", "0.1.0-rc.1", shaA, 5}}
	if !reflect.DeepEqual(l.Entries, want) {
		t.Fatalf("entries %+v", l.Entries)
	}
	if e, ok := l.Lookup("visual", "1.2.0"); !ok || e.SHA256 != shaB {
		t.Fatalf("Lookup: %+v %v", e, ok)
	}
	if _, ok := l.Lookup("visual", "1.4.0"); ok {
		t.Fatal("Lookup found a version that is not there")
	}
	if n := len(l.Versions("visual")); n != 2 {
		t.Fatalf("Versions: %d", n)
	}
}

func TestParseLockErrors(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"visual 1.3.0\n", "f.lock:1: want NAME VERSION SHA256, got 2 fields"},
		{"\nvisual 1.3.0 " + shaA + " extra\n", "f.lock:2: want NAME VERSION SHA256, got 4 fields"},
		{"vis/ual 1.3.0 " + shaA, `f.lock:1: plugin name "vis/ual" must be`},
		{"visual v1.3.0 " + shaA, `f.lock:1: version "v1.3.0": drop the leading v`},
		{"visual 1.3 " + shaA, `f.lock:1: version "1.3": want all three numbers`},
		{"visual 1.3.0 " + strings.ToUpper(shaA), "f.lock:1: sha256 \"0123456789ABCDEF"},
		{"visual 1.3.0 abc", `f.lock:1: sha256 "abc" must be 64 lowercase hex digits`},
		{"visual 1.3.0 " + shaA + "\n# x\nvisual 1.3.0 " + shaB, "f.lock:3: duplicate entry for visual 1.3.0 (first at line 1)"},
	} {
		_, err := ParseLock("f.lock", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseLock(%q) = %v, want %q", tc.data, err, tc.want)
		}
	}
	_, err := ParseLock("f.lock", []byte("a\nb 1.0.0 x\n"))
	if err == nil || !strings.Contains(err.Error(), "f.lock:1:") || !strings.Contains(err.Error(), "f.lock:2:") {
		t.Errorf("every bad line is reported: %v", err)
	}
}

func TestFormatLockRoundTrip(t *testing.T) {
	in := []LockEntry{{Name: "visual", Version: "1.2.0", SHA256: shaB}, {Name: "acoustic", Version: "0.1.0", SHA256: shaA},
		{Name: "visual", Version: "1.10.0", SHA256: shaA}}
	data := FormatLock(in)
	l, err := ParseLock("x", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	var got []string
	for _, e := range l.Entries {
		got = append(got, e.Name+" "+e.Version)
	}
	if want := []string{"acoustic 0.1.0", "visual 1.10.0", "visual 1.2.0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v\n%s", got, want, data)
	}
}

// FuzzParseLock: parsing never panics, every error names the file and a
// line, and what parses formats to a file that parses to the same entries.
func FuzzParseLock(f *testing.F) {
	f.Add("visual 1.3.0 " + shaA + "\n")
	f.Add("# c\nvisual 1.3.0 " + shaA + " # c\nacoustic 0.1.0-rc.1 " + shaB + "\n")
	f.Add("visual 1.3.0\n")
	f.Add("visual 1.3.0 " + shaA + "\nvisual 1.3.0 " + shaB)
	f.Fuzz(func(t *testing.T, data string) {
		l, err := ParseLock("f.lock", []byte(data))
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.lock:") {
					t.Fatalf("error line %q does not name file:line", line)
				}
			}
			return
		}
		again, err := ParseLock("g.lock", FormatLock(l.Entries))
		if err != nil {
			t.Fatalf("formatted lock does not parse: %v", err)
		}
		if len(again.Entries) != len(l.Entries) {
			t.Fatalf("%d entries, then %d", len(l.Entries), len(again.Entries))
		}
		for _, e := range l.Entries {
			if g, ok := again.Lookup(e.Name, e.Version); !ok || g.SHA256 != e.SHA256 {
				t.Fatalf("entry %+v lost", e)
			}
		}
	})
}
