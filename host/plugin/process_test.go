package plugin

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/proctest"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
)

var visualBin string

func TestMain(m *testing.M) {
	if os.Getenv("LSIE_TEST_FAKE_HOST") != "" {
		fakeHost()
		return
	}
	dir, err := os.MkdirTemp("", "lsie-plugin-test")
	if err != nil {
		panic(err)
	}
	visualBin = filepath.Join(dir, "visual")
	if out, err := exec.Command("go", "build", "-o", visualBin, "../../plugins/visual").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building visual: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startVisual(t *testing.T) *Process {
	t.Helper()
	b, err := Load(visualBin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(b, Options{StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestStartDescribe(t *testing.T) {
	p := startVisual(t)
	m := p.Manifest()
	if m.GetName() != "visual" || m.GetProtocolVersion() != 1 || m.GetVersion() == "" || len(m.GetFields()) != 4 {
		t.Fatalf("manifest %v", m)
	}
	if len(p.Binary().SHA256) != 64 {
		t.Fatalf("sha256 %q", p.Binary().SHA256)
	}
}

type collector chan *pluginv1.Result

func (c collector) handle(_ dataplane.Ack, r *pluginv1.Result) { c <- r }

func (c collector) next(t *testing.T) *pluginv1.Result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no result within 10 s")
		return nil
	}
}

func TestFramesThroughSharedMemory(t *testing.T) {
	p := startVisual(t)
	const w, h = 64, 48
	r, err := shm.CreateRegion(7, "test", shm.RegionSpec{Slots: 2, FrameBytes: w * 3 * h})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := p.SendRegion(r); err != nil {
		t.Fatal(err)
	}
	results := make(collector, 8)
	if err := p.OpenStream(context.Background(), 1, "cam", nil, results.handle, nil); err != nil {
		t.Fatal(err)
	}
	write := func(slot int, v byte, seq uint64) shm.Descriptor {
		buf := r.BeginWrite(slot)
		for i := range buf {
			buf[i] = v
		}
		gen := r.EndWrite(slot, 1, seq, int64(seq)*1e6, len(buf))
		return shm.Descriptor{Stream: 1, Region: 7, Slot: uint32(slot), Format: shm.FormatRGB24,
			Width: w, Height: h, Stride: w * 3, Generation: gen, Seq: seq, PTS: int64(seq) * 1e6}
	}
	for i, v := range []byte{255, 0, 128} {
		d := write(i%2, v, uint64(i))
		if err := p.SendFrame(&d); err != nil {
			t.Fatal(err)
		}
		res := results.next(t)
		if res.GetError() != nil || res.GetSeq() != uint64(i) || res.GetFields()["brightness"] != float64(v) {
			t.Fatalf("frame %d: %v", i, res)
		}
		if res.GetReceivedNanos() < d.SentNanos {
			t.Fatalf("received before sent: %d < %d", res.GetReceivedNanos(), d.SentNanos)
		}
	}
	// A descriptor whose slot was rewritten since is refused, not misread.
	stale := write(0, 10, 3)
	write(0, 20, 4)
	if err := p.SendFrame(&stale); err != nil {
		t.Fatal(err)
	}
	if res := results.next(t); res.GetError().GetCode() != "stale_frame" || !strings.Contains(res.GetError().GetMessage(), "stale") {
		t.Fatalf("stale descriptor: %v", res)
	}
	// A frame for a handle that is not open is an error as data.
	d := write(1, 1, 5)
	d.Stream = 99
	if err := p.SendFrame(&d); err != nil {
		t.Fatal(err)
	}
	if err := p.CloseStream(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

// The SDK exits its plugin when the data plane closes: EOF means the host
// is gone, so nothing is left running.
func TestPluginExitsOnDataPlaneEOF(t *testing.T) {
	p := startVisual(t)
	pid := p.cmd.Process.Pid
	p.data.Close()
	proctest.WaitGone(t, pid)
}

// A host killed with SIGKILL leaves no plugin behind.
func TestNoOrphanWhenHostIsKilled(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LSIE_TEST_FAKE_HOST="+visualBin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("fake host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("fake host said %q", line)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	proctest.WaitGone(t, pid)
}

// fakeHost starts the plugin, prints its pid and waits to be killed.
func fakeHost() {
	b, err := Load(os.Getenv("LSIE_TEST_FAKE_HOST"))
	if err != nil {
		os.Exit(2)
	}
	p, err := Start(b, Options{})
	if err != nil {
		os.Exit(3)
	}
	fmt.Println(p.cmd.Process.Pid)
	time.Sleep(time.Minute)
}

func TestNotAPluginFailsFast(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "sleeper")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := Load(script)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Start(b, Options{StartTimeout: time.Second}); err == nil {
		t.Fatal("a shell script passed the handshake")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("failing took %v", d)
	}
}

func TestFindAndDiscover(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("#!/bin/sh\n"), 0o755)
	bins, err := Discover(dir)
	if err != nil || len(bins) != 1 || bins[0].Name != "a" {
		t.Fatalf("discover: %v %v", bins, err)
	}
	if _, err := Find(dir, "b.txt"); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Fatalf("find non-executable: %v", err)
	}
	if _, err := Find(dir, "zzz"); err == nil || !strings.Contains(err.Error(), "plugin not found") {
		t.Fatalf("find missing: %v", err)
	}
}

// A descriptor the host opened without close-on-exec (as C libraries do)
// does not reach a plugin started afterwards.
func TestPluginInheritsNoHostDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "media")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	p := startVisual(t)
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.Pid(), e.Name())); target == path {
			t.Fatalf("plugin holds the host's descriptor of %s as fd %s", path, e.Name())
		}
	}
}
