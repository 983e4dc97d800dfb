// Command asr-bench measures the transcription plugin: it runs the built
// plugin binary through sdk/plugintest (the real protocol, as lsie-host
// drives it) over var/media/jfk.wav and the synthesised test set
// (scripts/asr-testset.sh), and prints per set the word error rate against
// the references, the real-time factor, the partial-result latency after
// speech onset, and the WER of plain pocketsphinx_continuous on the same
// audio.
//
//	go run ./cmd/asr-bench [-realtime] [-attrs lw=8,beam=1e-60]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/wav"
	"github.com/lsie-mlf/lsie/plugins/transcription/sphinx"
	"github.com/lsie-mlf/lsie/plugins/transcription/wer"
	"github.com/lsie-mlf/lsie/sdk/plugintest"
	"github.com/lsie-mlf/lsie/sdk/transcript"
)

const jfkText = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."

// tb lets plugintest, written for tests, run in a command: the few
// testing.TB methods it uses, the rest left to the embedded nil interface.
type tb struct {
	testing.TB
	dir      string
	cleanups []func()
}

func (t *tb) Helper()                   {}
func (t *tb) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, "error: "+f+"\n", a...) }
func (t *tb) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *tb) Logf(f string, a ...any)   { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *tb) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *tb) TempDir() string           { return t.dir }
func (t *tb) Name() string              { return "asr-bench" }
func (t *tb) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// file is one test recording and its reference.
type file struct{ path, ref string }

// result is one file's run.
type result struct {
	hyp         string
	audio, wall time.Duration
	latMedia    []time.Duration // per utterance with a partial: first partial's media time after VAD onset
	latWall     []time.Duration // same at real-time pace, wall clock
	utterances  int
}

func main() {
	var (
		plugin   = flag.String("plugin", "", "plugin binary (default: go build ./plugins/transcription)")
		models   = flag.String("models", "var/models", "model folder (Silero, ONNX Runtime)")
		asrDir   = flag.String("set", "var/asr", "synthesised test set folder (scripts/asr-testset.sh)")
		refs     = flag.String("refs", "testdata/asr/sentences.txt", "reference sentences, line N for NN.wav")
		jfk      = flag.String("jfk", "var/media/jfk.wav", "jfk.wav")
		attrList = flag.String("attrs", "", "extra plugin attributes, k=v,k=v (tuning)")
		realtime = flag.Bool("realtime", false, "also feed every file at real-time pace and measure wall-clock partial latency")
		noCLI    = flag.Bool("nocli", false, "skip pocketsphinx_continuous")
		verbose  = flag.Bool("v", false, "print every hypothesis")
	)
	flag.Parse()
	t := &tb{}
	var err error
	if t.dir, err = os.MkdirTemp("", "asr-bench"); err != nil {
		fail(err)
	}
	defer os.RemoveAll(t.dir)
	defer t.done()

	bin := *plugin
	if bin == "" {
		bin = filepath.Join(t.dir, "transcription")
		if out, err := exec.Command("go", "build", "-o", bin, "./plugins/transcription").CombinedOutput(); err != nil {
			fail(fmt.Errorf("go build: %v\n%s", err, out))
		}
	}
	md, _ := filepath.Abs(*models)
	attrs := map[string]string{"model_dir": md}
	for kv := range strings.SplitSeq(*attrList, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			attrs[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}

	sets := []struct {
		name  string
		files []file
	}{{"jfk", []file{{*jfk, jfkText}}}}
	lines, err := readLines(*refs)
	if err != nil {
		fail(err)
	}
	for _, voice := range []string{"espeak", "slt"} {
		var fs []file
		for i, l := range lines {
			p := filepath.Join(*asrDir, voice, fmt.Sprintf("%02d.wav", i+1))
			if _, err := os.Stat(p); err != nil {
				fail(fmt.Errorf("%s missing: run scripts/asr-testset.sh", p))
			}
			fs = append(fs, file{p, l})
		}
		sets = append(sets, struct {
			name  string
			files []file
		}{voice, fs})
	}

	h := plugintest.Start(t, bin)
	fmt.Printf("plugin %s, attributes %v\n\n", bin, attrs)
	fmt.Println("| set | files | ref words | WER plugin | WER pocketsphinx_continuous | RTF plugin | RTF CLI | utterances | partial latency, media (median / max) | partial latency, wall at real time (median / max) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, set := range sets {
		var edits, words, cliEdits int
		var audio, wall, cliWall time.Duration
		var latM, latW []time.Duration
		utts := 0
		for i, f := range set.files {
			pcm, err := wav.ReadMono16k(f.path)
			if err != nil {
				fail(err)
			}
			r := run(h, fmt.Sprintf("%s-%d", set.name, i), attrs, pcm, false)
			e, n := wer.Score(f.ref, r.hyp)
			edits, words = edits+e, words+n
			audio, wall = audio+r.audio, wall+r.wall
			latM = append(latM, r.latMedia...)
			utts += r.utterances
			if *realtime {
				rt := run(h, fmt.Sprintf("%s-rt-%d", set.name, i), attrs, pcm, true)
				latW = append(latW, rt.latWall...)
			}
			cliHyp := "-"
			if !*noCLI {
				t0 := time.Now()
				cliHyp, err = cli(f.path)
				if err != nil {
					fail(err)
				}
				cliWall += time.Since(t0)
				ce, _ := wer.Score(f.ref, cliHyp)
				cliEdits += ce
			}
			if *verbose {
				fmt.Fprintf(os.Stderr, "%s\n  ref: %s\n  ours: %s\n  cli:  %s\n", f.path, f.ref, r.hyp, cliHyp)
			}
		}
		cliWER, cliRTF := "-", "-"
		if !*noCLI {
			cliWER = fmt.Sprintf("%.1f %%", 100*float64(cliEdits)/float64(words))
			cliRTF = fmt.Sprintf("%.2f", cliWall.Seconds()/audio.Seconds())
		}
		fmt.Printf("| %s | %d | %d | %.1f %% | %s | %.2f | %s | %d | %s | %s |\n", set.name, len(set.files), words,
			100*float64(edits)/float64(words), cliWER, wall.Seconds()/audio.Seconds(), cliRTF, utts, stats(latM), stats(latW))
	}
}

// run feeds pcm in 100 ms records, as fast as the plugin answers or at
// real-time pace, and collects the finals and the partial latencies.
func run(h *plugintest.Harness, id string, attrs map[string]string, pcm []int16, realtime bool) result {
	s := h.Open(id, attrs)
	defer s.Close()
	var r result
	r.audio = time.Duration(len(pcm)) * time.Second / 16000
	firstPartial := map[int64]bool{}
	var texts []string
	start := time.Now()
	handle := func(end time.Duration) {
		now := time.Since(start)
		for _, m := range s.Published() {
			p, err := transcript.Parse(m.Payload)
			if err != nil {
				fail(err)
			}
			onset := time.Duration(m.Fields["onset_s"] * float64(time.Second))
			switch m.Topic {
			case transcript.TopicPartial:
				if !firstPartial[p.Utterance] {
					firstPartial[p.Utterance] = true
					r.latMedia = append(r.latMedia, end-onset)
					// At real-time pace, sample t is captured at wall time t.
					r.latWall = append(r.latWall, now-onset)
				}
			case transcript.TopicFinal:
				r.utterances++
				if p.Text != "" {
					texts = append(texts, p.Text)
				}
			}
		}
	}
	for i := 0; i < len(pcm); i += 1600 {
		j := min(i+1600, len(pcm))
		end := time.Duration(j) * time.Second / 16000
		if realtime {
			time.Sleep(time.Until(start.Add(end)))
		}
		if res := s.Audio(pcm[i:j], int64(i)); res.ErrCode != "" {
			fail(fmt.Errorf("%s: %s: %s", id, res.ErrCode, res.ErrMsg))
		}
		handle(end)
	}
	if res := s.EndAudio(); res.ErrCode != "" {
		fail(fmt.Errorf("%s end: %s: %s", id, res.ErrCode, res.ErrMsg))
	}
	handle(r.audio)
	r.wall = time.Since(start)
	r.hyp = strings.Join(texts, " ")
	return r
}

// cli runs plain pocketsphinx_continuous on the file with the same model.
func cli(path string) (string, error) {
	out, err := exec.Command("pocketsphinx_continuous", "-infile", path,
		"-hmm", filepath.Join(sphinx.ModelDir, "en-us"), "-lm", filepath.Join(sphinx.ModelDir, "en-us.lm.bin"),
		"-dict", filepath.Join(sphinx.ModelDir, "cmudict-en-us.dict"), "-logfn", "/dev/null").Output()
	if err != nil {
		return "", fmt.Errorf("pocketsphinx_continuous %s: %w", path, err)
	}
	return strings.Join(strings.Fields(string(out)), " "), nil
}

func stats(d []time.Duration) string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(x time.Duration) string { return fmt.Sprintf("%d ms", x.Milliseconds()) }
	return ms(s[len(s)/2]) + " / " + ms(s[len(s)-1])
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "asr-bench:", err)
	os.Exit(1)
}
