package plugin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// RunDir is one host's private directory for what its plugins need on
// disk: the gRPC sockets go-plugin makes (sock/) and verified plugin copies
// (bin/). It lives under $XDG_RUNTIME_DIR (or the temp dir) in lsie-UID/,
// one host-PID directory per host, locked while the host runs; a host that
// starts removes the directories of hosts that are gone (a SIGKILLed host
// cleans nothing itself), so no socket or copy outlives its host for long.
type RunDir struct {
	Path string
	lock *os.File
}

// OpenRunDir makes the host's directory and sweeps those of dead hosts.
func OpenRunDir() (*RunDir, error) {
	base := os.TempDir()
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
		if info, err := os.Stat(xdg); err == nil && info.IsDir() {
			base = xdg
		}
	}
	root := filepath.Join(base, "lsie-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("plugin run directory: %w", err)
	}
	if err := checkPrivate(root); err != nil {
		return nil, fmt.Errorf("plugin run directory: %w", err)
	}
	sweepRunDirs(root)
	dir := filepath.Join(root, "host-"+strconv.Itoa(os.Getpid()))
	_ = os.RemoveAll(dir) // a dead host's with our pid: swept above unless locked
	for _, d := range []string{dir, filepath.Join(dir, "sock"), filepath.Join(dir, "bin")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("plugin run directory: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin run directory: locking %s: %w", dir, err)
	}
	return &RunDir{Path: dir, lock: lock}, nil
}

// Sockets is where plugins make their gRPC sockets.
func (r *RunDir) Sockets() string { return filepath.Join(r.Path, "sock") }

// Bin is where verified plugin copies go.
func (r *RunDir) Bin() string { return filepath.Join(r.Path, "bin") }

// Close removes the directory.
func (r *RunDir) Close() error {
	err := os.RemoveAll(r.Path)
	_ = r.lock.Close()
	return err
}

// sweepRunDirs removes the host directories under root whose lock nobody
// holds: their host is gone.
func sweepRunDirs(root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|syscall.O_CLOEXEC, 0)
		if err != nil {
			// Never locked: a host that died making it, unless it is
			// being made now.
			pid, perr := strconv.Atoi(e.Name()[len("host-"):])
			if errors.Is(err, os.ErrNotExist) && len(e.Name()) > len("host-") && (perr != nil || !alive(pid)) {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = os.RemoveAll(dir)
		}
		_ = f.Close()
	}
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// checkPrivate makes sure dir is a directory only we can use.
func checkPrivate(dir string) error {
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || info.Mode().Perm() != 0o700 || (ok && int(st.Uid) != os.Getuid()) {
		return fmt.Errorf("%s is not a private directory (mode %v)", dir, info.Mode())
	}
	return nil
}
