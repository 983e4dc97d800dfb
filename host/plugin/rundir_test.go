package plugin

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A host's plugin sockets live in its own run directory, and a starting
// host removes what dead hosts left there, never a live host's.
func TestRunDirHoldsSocketsAndSweepsDeadHosts(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	root := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "lsie-"+itoa(os.Getuid()))
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	// A SIGKILLed host's directory (lock file, nobody holding it) with a
	// stale socket, one that died before locking, and a live one.
	dead := filepath.Join(root, "host-999999991")
	mkfile(t, filepath.Join(dead, ".lock"))
	mkfile(t, filepath.Join(dead, "sock", "plugin123"))
	unlocked := filepath.Join(root, "host-999999992")
	mkfile(t, filepath.Join(unlocked, "sock", "plugin456"))
	live := filepath.Join(root, "host-999999993")
	mkfile(t, filepath.Join(live, ".lock"))
	f, err := os.OpenFile(filepath.Join(live, ".lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	rd, err := OpenRunDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dead, unlocked} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s: a dead host's directory was kept (%v)", d, err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live host's directory was removed: %v", err)
	}

	b, err := Load(visualBin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(b, Options{StartTimeout: 10 * time.Second, RunDir: rd})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(rd.Sockets())
	if len(ents) != 1 || !strings.HasPrefix(ents[0].Name(), "plugin") {
		t.Errorf("plugin sockets in %s: %v", rd.Sockets(), ents)
	}
	p.Kill() // no clean exit: the socket stays until the host's directory goes
	p.Close()
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rd.Path); !os.IsNotExist(err) {
		t.Errorf("run directory kept after Close: %v", err)
	}
}

func mkfile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
