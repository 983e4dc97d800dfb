package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
	"github.com/lsie-mlf/lsie/shm"
	"github.com/lsie-mlf/lsie/shm/cuda"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Options configure how plugin processes start.
type Options struct {
	// StartTimeout bounds the handshake; a file that is not an lsie plugin
	// fails within it instead of hanging the host.
	StartTimeout time.Duration
	Logger       hclog.Logger
	// RunDir, if set, holds the plugins' gRPC sockets and verified copies
	// (one host's private directory); otherwise the temp dir does.
	RunDir *RunDir
}

// ResultHandler receives one plugin result and the lease it ends. It runs on
// the process's reader goroutine and must not block for long.
type ResultHandler func(ack dataplane.Ack, res *pluginv1.Result)

// PublishHandler receives one message the plugin published on a stream. It
// runs on the process's reader goroutine, before any result the plugin sent
// after it, and must not block for long.
type PublishHandler func(m *pluginv1.Message)

// Process is one running plugin binary, shared by all streams that use it.
type Process struct {
	bin      Binary
	manifest *pluginv1.Manifest
	results  *validate.Results // the manifest's result rules
	client   *goplugin.Client
	cmd      *exec.Cmd
	tail     *tailWriter // structured log lines
	raw      *tailWriter // plain stdout/stderr lines
	rpc      pluginv1.PluginClient
	data     *net.UnixConn
	log      hclog.Logger

	out      *outbox // the data plane's only writer (writer goroutine)
	mu       sync.RWMutex
	handlers map[uint32]ResultHandler
	publish  map[uint32]PublishHandler
	exited   chan struct{}
	exitErr  error
	once     sync.Once
}

// Start runs bin, completes the go-plugin handshake and reads its manifest.
func Start(bin Binary, opts Options) (*Process, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	log := opts.Logger.Named(bin.Name)
	hostEnd, childEnd, err := shm.SocketPair()
	if err != nil {
		return nil, fmt.Errorf("plugin %q: data-plane socket: %w", bin.Name, err)
	}
	// Raw stdout/stderr writes of plugin code reach us through go-plugin's
	// stdio sync; structured SDK logs arrive on its stderr log channel.
	tail := newTailWriter(20)
	rawOut := newTailWriter(20)
	rawOut.onLine = func(line string) { log.Info(line) }
	cmd := pluginv1.Command(bin.execPath(), childEnd)
	if opts.RunDir != nil {
		// go-plugin's server makes its socket there (not /tmp/pluginNNN).
		cmd.Env = append(cmd.Env, "PLUGIN_UNIX_SOCKET_DIR="+opts.RunDir.Sockets())
	}
	cc := pluginv1.ClientConfig(cmd)
	// go-plugin names the plugin's own log lines after the executable
	// itself: given our logger named after the plugin, they read
	// lsie.plugin.NAME.NAME.
	cc.StartTimeout, cc.Logger, cc.Stderr, cc.SyncStderr, cc.SyncStdout = opts.StartTimeout, opts.Logger, tail, rawOut, rawOut
	client := goplugin.NewClient(cc)
	fail := func(err error) (*Process, error) {
		pluginv1.KillGroup(cmd)
		client.Kill()
		hostEnd.Close()
		childEnd.Close()
		return nil, fmt.Errorf("plugin %q (%s): %w", bin.Name, bin.Path, err)
	}
	markCloseOnExec()
	proto, err := client.Client()
	if err != nil {
		return fail(handshakeError(err))
	}
	childEnd.Close() // the child holds its own copy now
	raw, err := proto.Dispense(pluginv1.PluginName)
	if err != nil {
		return fail(err)
	}
	rpc := raw.(pluginv1.PluginClient)
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	m, err := rpc.Describe(ctx, &pluginv1.DescribeRequest{})
	if err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	if err := checkManifest(bin, m); err != nil {
		return fail(err)
	}
	sc, err := hostEnd.SyscallConn()
	sock := -1
	if err == nil {
		err = sc.Control(func(fd uintptr) { sock = int(fd) })
	}
	if err != nil {
		return fail(err)
	}
	p := &Process{bin: bin, manifest: m, results: validate.NewResults(m), client: client, cmd: cmd, rpc: rpc, data: hostEnd, log: log, tail: tail, raw: rawOut,
		handlers: map[uint32]ResultHandler{}, publish: map[uint32]PublishHandler{}, exited: make(chan struct{}),
		out: newOutbox(sock)}
	go p.readLoop()
	go p.writeLoop()
	return p, nil
}

// Inspect starts bin only to read its manifest.
func Inspect(bin Binary, opts Options) (*pluginv1.Manifest, error) {
	p, err := Start(bin, opts)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return p.manifest, nil
}

// Binary returns the executable this process runs.
func (p *Process) Binary() Binary { return p.bin }

// Manifest returns what the plugin said about itself.
func (p *Process) Manifest() *pluginv1.Manifest { return p.manifest }

// Results checks the plugin's results and published messages by the SDK's
// rules (validate.Results): what fails is stored as an error on its item.
func (p *Process) Results() *validate.Results { return p.results }

// RPC exposes the control client (benchmarks use Process directly).
func (p *Process) RPC() pluginv1.PluginClient { return p.rpc }

// Exited is closed when the plugin process is gone.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// SendRegion hands a region's fd to the plugin. It must precede any frame
// in that region; the outbox keeps order.
func (p *Process) SendRegion(r *shm.Region) error {
	b := make([]byte, dataplane.RegionSize)
	dataplane.PutRegion(b, dataplane.Region{ID: r.ID(), Spec: r.Spec()})
	return p.out.putFD(b, r.Fd())
}

// SendCUDARegion announces a region of GPU frame buffers (cuda.MsgRegion:
// geometry and IPC handles) with its slot-header region's memfd.
func (p *Process) SendCUDARegion(info *cuda.RegionInfo, headerFd int) error {
	return p.out.putFD(info.Append(make([]byte, 0, info.Size())), headerFd)
}

// DropRegion tells the plugin to unmap a region.
func (p *Process) DropRegion(id uint32) error {
	var b [dataplane.DropRegionSize]byte
	dataplane.PutDropRegion(b[:], id)
	return p.out.putCopy(b[:])
}

// OpenStream opens a stream on the plugin; results for handle go to h, and
// messages it publishes on the stream to pub (nil: the host routes none).
func (p *Process) OpenStream(ctx context.Context, handle uint32, streamID string, attrs map[string]string, h ResultHandler, pub PublishHandler) error {
	p.mu.Lock()
	p.handlers[handle] = h
	if pub != nil {
		p.publish[handle] = pub
	}
	p.mu.Unlock()
	resp, err := p.rpc.OpenStream(ctx, &pluginv1.OpenStreamRequest{Handle: handle, StreamId: streamID, Attributes: attrs})
	if err == nil && resp.GetError() != nil {
		err = fmt.Errorf("%s: %s", resp.GetError().GetCode(), resp.GetError().GetMessage())
	}
	if err != nil {
		p.mu.Lock()
		delete(p.handlers, handle)
		delete(p.publish, handle)
		p.mu.Unlock()
		return fmt.Errorf("plugin %q: open stream %q: %w", p.bin.Name, streamID, err)
	}
	return nil
}

// CommandError is the plugin's refusal of a command (its error code and
// message).
type CommandError struct{ Code, Message string }

func (e *CommandError) Error() string { return e.Code + ": " + e.Message }

// Command runs an operator command on stream handle; the plugin runs it in
// order with the stream's work and answers with JSON.
func (p *Process) Command(ctx context.Context, handle uint32, name string, args []byte) ([]byte, error) {
	resp, err := p.rpc.Command(ctx, &pluginv1.CommandRequest{Handle: handle, Name: name, Args: args})
	if err != nil {
		return nil, fmt.Errorf("plugin %q: command %q: %w", p.bin.Name, name, err)
	}
	if e := resp.GetError(); e != nil {
		return nil, &CommandError{Code: e.GetCode(), Message: e.GetMessage()}
	}
	return resp.GetResult(), nil
}

// CloseStream closes a stream on the plugin.
func (p *Process) CloseStream(ctx context.Context, handle uint32) error {
	_, err := p.rpc.CloseStream(ctx, &pluginv1.CloseStreamRequest{Handle: handle})
	p.mu.Lock()
	delete(p.handlers, handle)
	delete(p.publish, handle)
	p.mu.Unlock()
	return err
}

// SendFrame writes one descriptor, stamping its send time unless the
// caller already did.
func (p *Process) SendFrame(d *shm.Descriptor) error {
	var b [dataplane.FrameSize]byte
	if d.SentNanos == 0 {
		d.SentNanos = shm.MonotonicNanos()
	}
	dataplane.PutFrame(b[:], d)
	return p.out.putCopy(b[:])
}

// SendMessage delivers one topic message to a consumer of stream handle;
// its result (Input MESSAGE) carries seq back as the ack.
func (p *Process) SendMessage(handle uint32, seq uint64, m *pluginv1.Message) error {
	b, err := dataplane.EncodeDeliver(dataplane.Deliver{Handle: handle, Seq: seq}, m)
	if err != nil {
		return err
	}
	return p.out.put(b)
}

// SendAudio queues one audio record packet (dataplane.PutAudio + PCM); the
// packet must not change afterwards.
func (p *Process) SendAudio(pkt []byte) error { return p.out.put(pkt) }

// Queued is how many packets wait for the writer.
func (p *Process) Queued() int { return p.out.len() }

func (p *Process) readLoop() {
	buf := make([]byte, dataplane.MaxMessage)
	for {
		n, err := shm.ReadPacket(p.data, buf) // results sent before a death are read first
		if err != nil {
			p.markExited(err)
			return
		}
		p.out.stats.received(n)
		if n > 0 && buf[0] == dataplane.MsgPublish {
			p.onPublish(buf[:n])
			continue
		}
		ack, body, err := dataplane.ParseResult(buf[:n])
		if err != nil {
			p.log.Error("bad data-plane message from plugin", "error", err)
			continue
		}
		res := &pluginv1.Result{}
		if err := proto.Unmarshal(body, res); err != nil {
			// Seq 0 and input video: the handler settles a frame by the
			// ack header's slot; audio and messages cannot be matched.
			p.log.Error("bad result encoding from plugin", "error", err)
			res = &pluginv1.Result{Handle: ack.Handle, Error: &pluginv1.Error{Code: validate.CodeBadResult, Message: err.Error()}}
		}
		p.mu.RLock()
		h := p.handlers[ack.Handle]
		p.mu.RUnlock()
		if h == nil {
			p.log.Warn("result for a stream that is not open", "handle", ack.Handle)
			continue
		}
		h(ack, res)
	}
}

func (p *Process) onPublish(b []byte) {
	handle, m, err := dataplane.DecodePublish(b)
	if err != nil {
		p.log.Error("bad published message from plugin", "error", err)
		return
	}
	p.mu.RLock()
	h := p.publish[handle]
	p.mu.RUnlock()
	if h == nil {
		p.log.Warn("message published on a stream that routes none", "handle", handle, "topic", m.GetTopic())
		return
	}
	h(m)
}

func (p *Process) markExited(err error) {
	p.once.Do(func() {
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		p.exitErr = err
		close(p.exited)
		p.out.close(errExited)
	})
}

// Close stops the plugin: go-plugin asks it to exit, then kills it after a
// grace period; closing the data plane makes the SDK exit as well.
func (p *Process) Close() error {
	p.client.Kill()
	pluginv1.KillGroup(p.cmd) // leftovers of a plugin that forked
	p.out.close(errExited)    // before the socket closes: its fd number may be reused
	err := p.data.Close()
	<-p.exited
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Pid is the plugin process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// StderrTail returns the last lines the plugin wrote to stderr: its plain
// output (a panic, a message before os.Exit) first, as the likeliest cause.
func (p *Process) StderrTail() []string {
	if raw := p.raw.Lines(); len(raw) > 0 {
		return raw
	}
	lines := p.tail.Lines()
	for i, l := range lines {
		lines[i] = readableLogLine(l)
	}
	return lines
}

// readableLogLine renders an SDK JSON log line as "level: message k=v".
func readableLogLine(line string) string {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	out := fmt.Sprintf("%v: %v", m["@level"], m["@message"])
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out += fmt.Sprintf(" %s=%v", k, m[k])
	}
	return out
}

// ExitStatus describes how the process ended ("exit status 3", "signal:
// killed"), or "" while it runs.
func (p *Process) ExitStatus() string {
	if !p.client.Exited() || p.cmd.ProcessState == nil {
		return ""
	}
	return p.cmd.ProcessState.String()
}

// Kill stops the process at once (a hung plugin gets no grace period).
func (p *Process) Kill() {
	pluginv1.KillGroup(p.cmd)
}

// Healthy asks the plugin whether it can take work: "ok" and "degraded"
// (working, at a cost it reports) can; anything else, or no answer, is a
// failed check.
func (p *Process) Healthy(ctx context.Context) error {
	resp, err := p.rpc.Health(ctx, &pluginv1.HealthRequest{})
	if err != nil {
		return err
	}
	if s := resp.GetStatus(); s == "degraded" {
		p.log.Debug("plugin reports degraded health", "message", resp.GetMessage())
	} else if s != "ok" {
		return fmt.Errorf("plugin reports %s: %s", resp.GetStatus(), resp.GetMessage())
	}
	return nil
}

// Metrics asks the plugin for its own metrics (sdk.Metrics). A plugin built
// before the call existed answers Unimplemented: it has none.
func (p *Process) Metrics(ctx context.Context) ([]*pluginv1.MetricFamily, error) {
	resp, err := p.rpc.Metrics(ctx, &pluginv1.MetricsRequest{})
	if status.Code(err) == codes.Unimplemented {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return resp.GetFamilies(), nil
}

// WaitExited waits up to d for go-plugin to finish with the process: it
// drains stderr before it reports the exit, so StderrTail is complete after.
func (p *Process) WaitExited(d time.Duration) {
	deadline := time.Now().Add(d)
	for !p.client.Exited() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}
