package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/host/semver"
	"github.com/lsie-mlf/lsie/internal/proctest"
)

// Tests of version resolution, plugins.lock and the protocol check run
// real plugin binaries: cmd/lsie-host/testdata/versionplugin, built with
// its version (or protocol) set by -ldflags -X.

var (
	buildMu sync.Mutex
	builds  = map[string]string{}
)

// versionPlugin builds the test plugin with main.VAR=VALUE settings (such
// as "version=1.3.0") once per test binary and returns its path.
func versionPlugin(t *testing.T, sets ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := strings.Join(sets, " ")
	if p, ok := builds[key]; ok {
		return p
	}
	var flags []string
	for _, s := range sets {
		flags = append(flags, "-X main."+s)
	}
	// Beside the visual binary that TestMain builds, and removes at the end.
	out := filepath.Join(filepath.Dir(visualBin), fmt.Sprintf("versionplugin-%d", len(builds)))
	cmd := exec.Command("go", "build", "-ldflags", strings.Join(flags, " "), "-o", out, "../../cmd/lsie-host/testdata/versionplugin")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building versionplugin %s: %v\n%s", key, err, b)
	}
	builds[key] = out
	return out
}

// install copies a built binary into dir as file.
func install(t *testing.T, src, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// versionsDir is a plugins directory holding versioned@V for each V,
// each built as that version.
func versionsDir(t *testing.T, versions ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, v := range versions {
		install(t, versionPlugin(t, "version="+v), dir, "versioned@"+v)
	}
	return dir
}

var testOpts = Options{StartTimeout: 20 * time.Second}

func TestResolveNewestMatchWins(t *testing.T) {
	dir := versionsDir(t, "1.2.0", "1.2.7", "1.3.0", "2.0.0")
	install(t, versionPlugin(t, "version=2.1.0-rc.1"), dir, "versioned@2.1.0-rc.1")
	for _, tc := range []struct{ constraint, want string }{
		{"", "2.1.0-rc.1"},
		{"~> 1.2", "1.3.0"},
		{"~> 1.2.0", "1.2.7"},
		{"= 1.2.0", "1.2.0"},
		{">= 1.0, < 2.0, != 1.3.0", "1.2.7"},
		{"~> 2.0", "2.0.0"},
		{">= 2.1.0-rc.1", "2.1.0-rc.1"},
	} {
		b, err := Resolve(dir, "versioned", tc.constraint, testOpts)
		if err != nil {
			t.Errorf("%q: %v", tc.constraint, err)
			continue
		}
		if b.Version != tc.want || b.File() != "versioned@"+tc.want || b.Name != "versioned" || len(b.SHA256) != 64 || b.ExecPath != "" {
			t.Errorf("%q: got %+v, want version %s", tc.constraint, b, tc.want)
		}
	}
	// What was picked runs, and says the same version.
	b, err := Resolve(dir, "versioned", "~> 1.2", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(b, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if v := p.Manifest().GetVersion(); v != "1.3.0" {
		t.Fatalf("manifest version %s", v)
	}
}

func TestResolveNoMatchListsVersions(t *testing.T) {
	dir := versionsDir(t, "1.2.0", "1.3.0")
	_, err := Resolve(dir, "versioned", "~> 2.0", testOpts)
	if !errors.Is(err, ErrNoVersion) {
		t.Fatalf("got %v, want ErrNoVersion", err)
	}
	for _, want := range []string{`plugin "versioned" wants "~> 2.0"`, "1.3.0 (versioned@1.3.0), 1.2.0 (versioned@1.2.0)", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Resolve(dir, "nosuch", "", testOpts); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `plugin not found: "nosuch"`) {
		t.Errorf("missing plugin: %v", err)
	}
	if _, err := Resolve(dir, "versioned", "~> 1.x", testOpts); err == nil || !strings.Contains(err.Error(), "column 6") {
		t.Errorf("bad constraint: %v", err)
	}
	// Several wants: each is named.
	_, err = pick(dir, "versioned", nil, testOpts, Want{Constraint: mustConstraint(t, "~> 1.3"), By: `stream "a" (x.hcl:3:3)`},
		Want{Constraint: mustConstraint(t, "< 1.3"), By: `stream "b" (x.hcl:9:3)`})
	if err == nil || !strings.Contains(err.Error(), `"~> 1.3" for stream "a" (x.hcl:3:3) and "< 1.3" for stream "b" (x.hcl:9:3)`) {
		t.Errorf("two wants: %v", err)
	}
	b, err := pick(dir, "versioned", nil, testOpts, Want{}, Want{Constraint: mustConstraint(t, "< 1.3")})
	if err != nil || b.Version != "1.2.0" {
		t.Errorf("every want holds: %+v %v", b, err)
	}
}

func mustConstraint(t *testing.T, s string) semver.Constraint {
	t.Helper()
	c, err := semver.ParseConstraint(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A plain NAME file's version is its manifest's, read by starting it when
// there is something to compare.
func TestResolvePlainFileByManifest(t *testing.T) {
	dir := versionsDir(t, "1.2.0")
	install(t, versionPlugin(t, "version=1.3.0"), dir, "versioned")
	b, err := Resolve(dir, "versioned", "", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if b.File() != "versioned" || b.Version != "1.3.0" || b.VersionFrom != "its manifest" {
		t.Fatalf("%+v", b)
	}
	if b, err = Resolve(dir, "versioned", "< 1.3", testOpts); err != nil || b.File() != "versioned@1.2.0" {
		t.Fatalf("%+v %v", b, err)
	}
	// Alone and unconstrained it is not started to be resolved.
	alone := t.TempDir()
	install(t, versionPlugin(t, "version=1.3.0"), alone, "versioned")
	if b, err = Resolve(alone, "versioned", "", testOpts); err != nil || b.Version != "" {
		t.Fatalf("%+v %v", b, err)
	}
}

func TestStartRefusesFileNameVersionMismatch(t *testing.T) {
	dir := t.TempDir()
	install(t, versionPlugin(t, "version=1.2.0"), dir, "versioned@1.3.0")
	b, err := Resolve(dir, "versioned", "", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(b, testOpts)
	var vm *VersionMismatchError
	if !errors.As(err, &vm) || vm.Expected != "1.3.0" || vm.Manifest != "1.2.0" {
		t.Fatalf("got %v, want a VersionMismatchError", err)
	}
	want := fmt.Sprintf(`plugin "versioned" (%s): its manifest says version "1.2.0" but its file name says "1.3.0"`, b.Path)
	if err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}
}

// A plugin built against a future SDK is refused with both protocol
// versions named, whether go-plugin's handshake or the manifest tells.
func TestStartRefusesOtherProtocol(t *testing.T) {
	for _, mode := range []string{"2", "describe2"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			path := install(t, versionPlugin(t, "protocol="+mode), dir, "future")
			b, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Start(b, testOpts)
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Plugin != 2 || pe.Host != 1 {
				t.Fatalf("got %v, want a ProtocolError", err)
			}
			if want := fmt.Sprintf(`plugin "future" (%s): speaks protocol 2; this host speaks protocol 1`, path); err.Error() != want {
				t.Fatalf("error\n%s\nwant\n%s", err, want)
			}
		})
	}
}

// lockFor writes a lock of the given files (NAME@VERSION) of dir.
func lockFor(t *testing.T, dir string, files ...string) *Lock {
	t.Helper()
	var entries []LockEntry
	for _, f := range files {
		b, err := Load(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, LockEntry{Name: b.Name, Version: b.Version, SHA256: b.SHA256})
	}
	p := filepath.Join(dir, LockFileName)
	if err := os.WriteFile(p, FormatLock(entries), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLock(dir, "")
	if err != nil || l == nil {
		t.Fatalf("OpenLock: %v %v", l, err)
	}
	return l
}

// With a lock, what runs is a private copy of verified bytes.
func TestLockRunsVerifiedPrivateCopy(t *testing.T) {
	dir := versionsDir(t, "1.2.0", "1.3.0", "1.4.0")
	cat := NewCatalog(dir, lockFor(t, dir, "versioned@1.2.0", "versioned@1.3.0"), testOpts)
	defer cat.Close()
	// 1.4.0 is newer but not locked: the lock pins what may run.
	b, err := cat.Resolve("versioned")
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != "1.3.0" || !b.Locked || b.Path != filepath.Join(dir, "versioned@1.3.0") {
		t.Fatalf("%+v", b)
	}
	priv := cat.PrivateDir()
	if filepath.Dir(b.ExecPath) != priv {
		t.Fatalf("exec path %s is not in the private directory %s", b.ExecPath, priv)
	}
	for p, mode := range map[string]os.FileMode{priv: 0o700, b.ExecPath: 0o500} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want mode %v", p, info.Mode(), err, mode)
		}
	}
	p, err := Start(b, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if exe != b.ExecPath {
		t.Fatalf("the plugin runs %s, want the verified copy %s", exe, b.ExecPath)
	}
	// Replacing the original now changes nothing that runs.
	install(t, versionPlugin(t, "version=1.2.0"), dir, "versioned@1.3.0")
	if got, err := hashFile(b.ExecPath); err != nil || got != b.SHA256 {
		t.Fatalf("copy changed: %s %v", got, err)
	}
	pid := p.Pid()
	p.Close()
	proctest.WaitGone(t, pid)
	// A constraint still applies among locked versions.
	b2, err := cat.Resolve("versioned", Want{Constraint: mustConstraint(t, "< 1.3")})
	if err != nil || b2.Version != "1.2.0" {
		t.Fatalf("%+v %v", b2, err)
	}
	if err := cat.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(priv); !os.IsNotExist(err) {
		t.Fatalf("private directory left behind: %v", err)
	}
}

func TestLockMismatchRefused(t *testing.T) {
	dir := versionsDir(t, "1.3.0")
	lock := lockFor(t, dir, "versioned@1.3.0")
	want := lock.Entries[0].SHA256
	path := filepath.Join(dir, "versioned@1.3.0")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff // tamper one byte
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	actual, _ := hashFile(path)
	cat := NewCatalog(dir, lock, testOpts)
	defer cat.Close()
	_, err = cat.Resolve("versioned")
	var lm *LockMismatchError
	if !errors.As(err, &lm) || lm.Expected != want || lm.Actual != actual || lm.Name != "versioned" || lm.Version != "1.3.0" {
		t.Fatalf("got %v, want a LockMismatchError", err)
	}
	for _, s := range []string{`plugin "versioned" 1.3.0`, want, actual, LockFileName + ":3", "refusing to run it"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	// Nothing unverified is left to run.
	if entries, _ := os.ReadDir(cat.PrivateDir()); len(entries) != 0 {
		t.Fatalf("private directory holds %d files", len(entries))
	}
	if st, _ := cat.LockStatus(Binary{Name: "versioned", Version: "1.3.0", Path: path}); st != LockMismatch {
		t.Fatalf("LockStatus %s", st)
	}
}

func TestLockMissingEntryRefused(t *testing.T) {
	dir := versionsDir(t, "1.3.0")
	install(t, versionPlugin(t, "version=1.3.0"), dir, "other@1.3.0")
	cat := NewCatalog(dir, lockFor(t, dir, "other@1.3.0"), testOpts)
	defer cat.Close()
	_, err := cat.Resolve("versioned")
	var nl *NotLockedError
	if !errors.As(err, &nl) || !strings.Contains(err.Error(), `plugin "versioned" has no entry in `+filepath.Join(dir, LockFileName)) {
		t.Fatalf("got %v, want a NotLockedError", err)
	}
	if cat.PrivateDir() != "" {
		t.Fatal("a private copy was made of an unlocked plugin")
	}
	if st, _ := cat.LockStatus(Binary{Name: "versioned", Version: "1.3.0", Path: filepath.Join(dir, "versioned@1.3.0")}); st != LockUnlocked {
		t.Fatalf("LockStatus %s", st)
	}
}

// A plain NAME file under a lock is backed by the entry whose bytes it
// has, without being started to learn its version.
func TestLockPlainFile(t *testing.T) {
	dir := t.TempDir()
	install(t, versionPlugin(t, "version=1.3.0"), dir, "versioned")
	sum, _ := hashFile(filepath.Join(dir, "versioned"))
	other, _ := hashFile(versionPlugin(t, "version=1.2.0"))
	lock, err := ParseLock("l", []byte(fmt.Sprintf("versioned 1.3.0 %s\nversioned 1.2.0 %s\n", sum, other)))
	if err != nil {
		t.Fatal(err)
	}
	cat := NewCatalog(dir, lock, testOpts)
	defer cat.Close()
	b, err := cat.Resolve("versioned")
	if err != nil || b.Version != "1.3.0" || b.VersionFrom != "plugins.lock" || !b.Locked {
		t.Fatalf("%+v %v", b, err)
	}
	if st, e := cat.LockStatus(Binary{Name: "versioned", Path: filepath.Join(dir, "versioned")}); st != LockOK || e.Version != "1.3.0" {
		t.Fatalf("LockStatus %s %+v", st, e)
	}
	p, err := Start(b, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// go-plugin's AutoMTLS is on: the plugin process got a client
// certificate in its environment.
func TestAutoMTLSInEffect(t *testing.T) {
	p := startVisual(t)
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	var cert []byte
	for _, kv := range bytes.Split(env, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("PLUGIN_CLIENT_CERT=")); ok {
			cert = v
		}
	}
	if !bytes.Contains(cert, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Fatalf("PLUGIN_CLIENT_CERT is %q", cert)
	}
	// The connection works over it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Healthy(ctx); err != nil {
		t.Fatal(err)
	}
}
