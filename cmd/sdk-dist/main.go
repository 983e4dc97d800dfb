// Command sdk-dist writes the SDK's modules (shm, shm/cuda, sdk,
// sdk/cudaframe) at the version in sdk/VERSION into a directory in the
// module-proxy layout (GOPROXY=file://DIR), together with every module a CPU
// plugin needs beside them, so that a plugin outside this repository builds
// from that directory alone with no replace directive. docs/PLUGIN_SDK.md
// "Depending on the SDK" says how a third party uses it; CI proves it with
// scripts/sdk-proxy-check.sh.
//
//	go run ./cmd/sdk-dist -out var/goproxy
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

// libs are the module directories a plugin may depend on, released together.
var libs = []string{"shm", "shm/cuda", "sdk", "sdk/cudaframe"}

// consumers are in-repo plugin modules whose dependencies the directory must
// serve: a clean build of each from the proxy alone is what CI checks.
var consumers = []string{"examples/brightness", "examples/minimal"}

func main() {
	out := flag.String("out", "var/goproxy", "proxy directory to write")
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sdk-dist:", err)
		os.Exit(1)
	}
}

func run(root, out string) error {
	raw, err := os.ReadFile(filepath.Join(root, "sdk", "VERSION"))
	if err != nil {
		return err
	}
	version := "v" + strings.TrimSpace(string(raw))
	if !semver.IsValid(version) || semver.Major(version) != "v1" {
		return fmt.Errorf("sdk/VERSION: %q is not a v1 semantic version", version)
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	when := commitTime(root)
	for _, dir := range libs {
		p, err := writeModule(out, filepath.Join(root, dir), version, when)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		fmt.Printf("sdk-dist: %s %s\n", p, version)
	}
	for _, dir := range consumers {
		n, err := addDependencies(out, filepath.Join(root, dir))
		if err != nil {
			return fmt.Errorf("dependencies of %s: %w", dir, err)
		}
		fmt.Printf("sdk-dist: %s: %d files of dependencies\n", dir, n)
	}
	return nil
}

// commitTime is the time of HEAD, so that the .info file is stable between
// runs at one commit (the go command shows it; nothing checks it).
func commitTime(root string) time.Time {
	b, err := exec.Command("git", "-C", root, "log", "-1", "--format=%cI").Output()
	if err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b))); err == nil {
			return t.UTC()
		}
	}
	return time.Now().UTC()
}

// writeModule writes dir's module at version: list, .info, .mod and .zip.
// The zip holds the files git tracks in the directory (as they are in the
// working tree), minus nested modules and the Python SDK, as a VCS host
// would serve a tag of the Go module: builds give the same zip, and no
// build output or cache rides along.
func writeModule(out, dir, version string, when time.Time) (string, error) {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return "", err
	}
	if len(f.Replace) > 0 {
		return "", errors.New("go.mod has replace directives, which consumers would not see")
	}
	m := module.Version{Path: f.Module.Mod.Path, Version: version}
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	vdir := filepath.Join(out, filepath.FromSlash(esc), "@v")
	// The module's earlier builds at this version are stale: start afresh.
	if err := os.RemoveAll(vdir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return "", err
	}
	zfiles, err := moduleFiles(dir)
	if err != nil {
		return "", err
	}
	var zbuf bytes.Buffer
	if err := zip.Create(&zbuf, m, zfiles); err != nil {
		return "", err
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    string
	}{version, when.Format(time.RFC3339)})
	files := map[string][]byte{
		"list":            []byte(version + "\n"),
		version + ".info": info,
		version + ".mod":  gomod,
		version + ".zip":  zbuf.Bytes(),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(vdir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return m.Path, nil
}

// moduleFiles lists the tracked files of dir's module: nested modules
// (directories with their own go.mod) and sdk/python (not Go) left out.
func moduleFiles(dir string) ([]zip.File, error) {
	out, err := exec.Command("git", "-C", dir, "ls-files", "-z", "--", ".").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	var nested []string
	var files []zip.File
	names := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	for _, name := range names {
		if d := filepath.Dir(name); filepath.Base(name) == "go.mod" && d != "." {
			nested = append(nested, d+"/")
		}
	}
	for _, name := range names {
		if name == "" || strings.HasPrefix(name, "python/") || slices.ContainsFunc(nested, func(n string) bool { return strings.HasPrefix(name, n) }) {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			return nil, err
		}
		files = append(files, dirFile{slash: filepath.ToSlash(name), path: path, info: info})
	}
	return files, nil
}

// dirFile is a file of the working tree as zip.Create wants it.
type dirFile struct {
	slash, path string
	info        fs.FileInfo
}

func (f dirFile) Path() string                 { return f.slash }
func (f dirFile) Lstat() (fs.FileInfo, error)  { return f.info, nil }
func (f dirFile) Open() (io.ReadCloser, error) { return os.Open(f.path) }

// addDependencies resolves a copy of the consumer module outside the
// workspace, against out first and the local module cache second, in a
// module cache of its own; what that cache downloaded is exactly what a
// consumer needs, and it is copied into out in the same layout.
func addDependencies(out, dir string) (int, error) {
	tmp, err := os.MkdirTemp("", "sdk-dist-")
	if err != nil {
		return 0, err
	}
	defer removeAll(tmp)
	work := filepath.Join(tmp, "mod")
	if err := os.CopyFS(work, os.DirFS(dir)); err != nil {
		return 0, err
	}
	cache, err := goEnv("GOMODCACHE")
	if err != nil {
		return 0, err
	}
	fresh := filepath.Join(tmp, "cache")
	cmd := exec.Command("go", "list", "-deps", "-test", "./...")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local",
		"GOMODCACHE="+fresh, "GONOSUMDB=github.com/lsie-mlf/lsie", "GOSUMDB=off",
		"GOPROXY=file://"+out+",file://"+filepath.Join(cache, "cache", "download"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go list: %v\n%s", err, b)
	}
	download := filepath.Join(fresh, "cache", "download")
	n := 0
	err = filepath.WalkDir(download, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(download, p)
		if d.IsDir() {
			if rel == "sumdb" || strings.HasPrefix(rel, "github.com/lsie-mlf/lsie") {
				return fs.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".info", ".mod", ".zip":
		default:
			if d.Name() != "list" {
				return nil
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if d.Name() == "list" {
			b = mergeList(dst, b)
		}
		n++
		return os.WriteFile(dst, b, 0o644)
	})
	return n, err
}

// mergeList keeps versions another consumer already listed.
func mergeList(dst string, b []byte) []byte {
	old, _ := os.ReadFile(dst)
	seen := map[string]bool{}
	var lines []string
	for _, l := range strings.Split(string(old)+"\n"+string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

func goEnv(name string) (string, error) {
	b, err := exec.Command("go", "env", name).Output()
	return strings.TrimSpace(string(b)), err
}

// removeAll removes a module cache, whose files the go command made read-only.
func removeAll(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}
