package capture

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/rtmptest"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

// toneWAV writes buffers×100 ms of a 440 Hz tone as 16 kHz mono S16LE WAV.
func toneWAV(t *testing.T, dir, name string, buffers int) string {
	t.Helper()
	return launch(t, dir, name, "audiotestsrc", "num-buffers="+strconv.Itoa(buffers), "samplesperbuffer=1600", "freq=440", "volume=0.5", "!",
		"audio/x-raw,format=S16LE,rate=16000,channels=1", "!", "wavenc", "!", "filesink")
}

// An audio-only file runs for an AudioHandler: NoVideo once, no frame,
// every sample on the line, progress on the audio alone up to the end.
func TestAudioOnlyFile(t *testing.T) {
	dir := t.TempDir()
	wav := toneWAV(t, dir, "tone.wav", 30)
	mp3 := launch(t, dir, "tone.mp3", "audiotestsrc", "num-buffers=300", "samplesperbuffer=441", "freq=440", "volume=0.5", "!",
		"audio/x-raw,rate=44100,channels=1", "!", "audioconvert", "!", "lamemp3enc", "!", "filesink")
	tests := []struct {
		name     string
		path     string
		realtime bool
		// slack is how far the sample count may be from 48000: 0 for PCM;
		// an MP3 decoder's delay and padding add up to two of its frames
		// (1152 samples at 44.1 kHz, 418 at 16 kHz; measured +483).
		slack int64
	}{
		{name: "wav lossless", path: wav},
		{name: "wav realtime", path: wav, realtime: true},
		{name: "mp3 lossless", path: mp3, slack: 2 * 418},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &avRecorder{}
			start := time.Now()
			c, s := runAV(t, Config{StreamID: "radio", Source: fileSpec(t, tc.path), FPS: 5, Realtime: tc.realtime}, r, 30*time.Second)
			elapsed := time.Since(start)
			if s.noVideo != 1 || s.noAudio != 0 || len(s.frames) != 0 {
				t.Fatalf("NoVideo %d times, NoAudio %d times, %d frames; want NoVideo once, audio, no frame", s.noVideo, s.noAudio, len(s.frames))
			}
			end := checkTiling(t, s.events, nil)
			delivered, gapped, chunks, gaps := s.samples()
			if len(s.progress) < 10 {
				t.Fatalf("progress reported %d times, want it to follow the audio: %v", len(s.progress), s.progress)
			}
			final := s.progress[len(s.progress)-1]
			if final != sampleTime(end) {
				t.Errorf("final progress %v, line ends at %v", final, sampleTime(end))
			}
			t.Logf("%d samples in %d chunks, %d gaps (%d samples), final progress %v, %d progress reports, %v",
				delivered, chunks, gaps, gapped, final, len(s.progress), elapsed.Round(time.Millisecond))
			if tc.slack == 0 {
				if delivered != 48000 || chunks != 30 || gaps != 0 || final != 3*time.Second {
					t.Errorf("PCM: %d samples in %d chunks, %d gaps, final %v; want 48000 in 30, none, 3s", delivered, chunks, gaps, final)
				}
			} else if d := delivered - 48000; d > tc.slack || d < -tc.slack {
				t.Errorf("%d samples, want 48000 ± %d", delivered, tc.slack)
			}
			// Compressed audio may end before the duration its file
			// claims (an MP3's is estimated from its bit rate): the rest
			// is one end-of-stream gap.
			for i, e := range s.events {
				if e.gap && (i != len(s.events)-1 || e.reason != GapEOS) {
					t.Errorf("gap %+v, want none but one at the end (eos)", e)
				}
			}
			checkTone(t, s.pcm, 440)
			if tc.realtime && elapsed < 2500*time.Millisecond {
				t.Errorf("realtime 3 s of audio took %v", elapsed)
			}
			if st := c.Stats(); st.Frames != 0 || st.AudioSamples != uint64(delivered) || st.Progress != final {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// A looping audio-only file keeps one sample line: passes follow each other
// without gaps, and progress moves on.
func TestAudioOnlyLoop(t *testing.T) {
	wav := toneWAV(t, t.TempDir(), "tone.wav", 10)
	r := &avRecorder{until: 3500 * time.Millisecond}
	c, s := runAV(t, Config{StreamID: "loop", Source: fileSpec(t, wav), FPS: 5, Loop: true}, r, 30*time.Second)
	st := c.Stats()
	if st.Loops < 3 || s.noVideo != 1 || len(s.frames) != 0 {
		t.Fatalf("%d loops, NoVideo %d times, %d frames", st.Loops, s.noVideo, len(s.frames))
	}
	end := checkTiling(t, s.events, func(end int64) bool { return end%16000 == 0 })
	if _, gapped, _, gaps := s.samples(); gaps != 0 {
		t.Errorf("%d gaps (%d samples) in a loop of audio alone", gaps, gapped)
	}
	if end < 3*16000 {
		t.Errorf("line ends at sample %d after %d loops", end, st.Loops)
	}
}

// A still image is refused with a SourceError that says so and names the
// source, whatever the handler: videorate would abort the process on it.
func TestStillImageRefused(t *testing.T) {
	dir := t.TempDir()
	png := launch(t, dir, "still.png", "videotestsrc", "num-buffers=1", "pattern=red", "!", "video/x-raw,width=64,height=48", "!", "pngenc", "!", "filesink")
	jpg := launch(t, dir, "still.jpg", "videotestsrc", "num-buffers=1", "pattern=red", "!", "video/x-raw,width=64,height=48", "!", "jpegenc", "!", "filesink")
	for _, tc := range []struct {
		name, path, kind string
		audio            bool
	}{
		{name: "png", path: png, kind: "image/png"},
		{name: "jpeg", path: jpg, kind: "image/jpeg"},
		{name: "png audio handler", path: png, kind: "image/png", audio: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := fileSpec(t, tc.path)
			var h Handler = &recorder{}
			if tc.audio {
				h = &avRecorder{}
			}
			c, err := New(Config{StreamID: "pic", Source: spec, FPS: 5}, h)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			err = c.Run(ctx)
			var se *SourceError
			if !errors.As(err, &se) || !errors.Is(err, ErrStillImage) {
				t.Fatalf("Run = %v, want a *SourceError for a still image", err)
			}
			if se.StreamID != "pic" || !strings.Contains(se.Message, spec.Redacted()) || !strings.Contains(se.Message, "still image ("+tc.kind+")") ||
				!strings.Contains(se.Message, "image { fps = N }") {
				t.Errorf("error %q: want the source, that it is a still image (%s), and the way out", se.Message, tc.kind)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("refusal took %v", el)
			}
			if st := c.Status(); st.State != SourceFailed {
				t.Errorf("status %+v, want failed", st)
			}
			t.Logf("%v", err)
		})
	}
}

// Source.ImageFPS makes a still image an endless video at that rate, paced
// by the analysis rate like any video.
func TestStillImageAsVideo(t *testing.T) {
	dir := t.TempDir()
	png := launch(t, dir, "still.png", "videotestsrc", "num-buffers=1", "pattern=white", "!", "video/x-raw,width=64,height=48", "!", "pngenc", "!", "filesink")
	jpg := launch(t, dir, "still.jpg", "videotestsrc", "num-buffers=1", "pattern=white", "!", "video/x-raw,width=96,height=64", "!", "jpegenc", "!", "filesink")
	for _, tc := range []struct {
		name          string
		path          string
		imageFPS, fps int
		w, h          int
		step          time.Duration
		realtime      bool
	}{
		{name: "png at 1 fps", path: png, imageFPS: 1, fps: 5, w: 64, h: 48, step: time.Second},
		// The image rate above the analysis rate: videorate keeps 5 of 10.
		{name: "jpeg at 10 fps analysed at 5", path: jpg, imageFPS: 10, fps: 5, w: 96, h: 64, step: 200 * time.Millisecond},
		{name: "png at 4 fps realtime", path: png, imageFPS: 4, fps: 5, w: 64, h: 48, step: 250 * time.Millisecond, realtime: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := fileSpec(t, tc.path)
			spec.ImageFPS = tc.imageFPS
			r := &avRecorder{limit: 4}
			start := time.Now()
			_, s := runAV(t, Config{StreamID: "pic", Source: spec, FPS: tc.fps, Realtime: tc.realtime}, r, 30*time.Second)
			if el := time.Since(start); tc.realtime && el < 3*tc.step-50*time.Millisecond {
				t.Errorf("4 realtime frames %v apart came within %v", tc.step, el)
			}
			if len(s.frames) < 4 || s.noAudio != 1 || s.noVideo != 0 {
				t.Fatalf("%d frames, NoAudio %d, NoVideo %d; want 4 frames, NoAudio once", len(s.frames), s.noAudio, s.noVideo)
			}
			for i, f := range s.frames[:4] {
				if f.seq != uint64(i) || f.pts != time.Duration(i)*tc.step || f.w != tc.w || f.h != tc.h {
					t.Errorf("frame %d: seq %d pts %v %dx%d, want pts %v %dx%d", i, f.seq, f.pts, f.w, f.h, time.Duration(i)*tc.step, tc.w, tc.h)
				}
			}
			for i := 1; i < len(s.progress); i++ {
				if s.progress[i] <= s.progress[i-1] {
					t.Errorf("progress %v after %v", s.progress[i], s.progress[i-1])
				}
			}
		})
	}
}

// Without video, progress follows audio alone, across a loop seam too.
func TestTimelineProgressWithoutVideo(t *testing.T) {
	tl := timeline{period: 200 * time.Millisecond}
	step := func() (time.Duration, bool) {
		q, ok := tl.next()
		if ok {
			tl.advance(q)
		}
		return q, ok
	}
	tl.setAudio(audioOn)
	tl.audioChunk(0, 1600)
	if got, ok := step(); ok {
		t.Fatalf("progress %v while video may still come", got)
	}
	tl.setVideoOff(true)
	if got, ok := step(); !ok || got != 100*time.Millisecond {
		t.Fatalf("step = %v %v, want 100ms (audio alone)", got, ok)
	}
	tl.audioChunk(1600, 1600)
	tl.audioGap(3200, 800)
	if got, ok := step(); !ok || got != 250*time.Millisecond {
		t.Fatalf("step = %v %v, want 250ms", got, ok)
	}
	tl.branchEOS(true)
	if got, ok := step(); ok {
		t.Fatalf("step = %v after the audio ended; EOS reports", got)
	}
	reached := tl.end(0)
	if reached != 250*time.Millisecond {
		t.Fatalf("end = %v, want 250ms", reached)
	}
	tl.seam(reached)
	tl.audioChunk(4000, 1600)
	if got, ok := step(); !ok || got != 350*time.Millisecond {
		t.Fatalf("step = %v %v after the seam, want 350ms", got, ok)
	}
}

// An audio-only RTMP feed (internet radio over RTMP) runs on its audio, and
// keeps running through a publisher restart (reconnect) without video.
func TestRTMPAudioOnly(t *testing.T) {
	srv := rtmptest.Start(t)
	procs := testenv.NewProcs(t)
	args := []string{"-q", "audiotestsrc", "is-live=true", "wave=sine", "freq=440", "!", "audioconvert", "!", "avenc_aac", "!", "aacparse", "!",
		"flvmux", "streamable=true", "!", "rtmp2sink", "location=" + srv.URL("radio")}
	pub, err := procs.Start("gst-launch-1.0", args...)
	if err != nil {
		t.Fatal(err)
	}
	r := newLiveRec()
	c, stop := liveCapture(t, srv.URL("radio"), r, shortReconnect)
	start := time.Now()
	audioAt := func(at time.Duration) func() bool {
		return func() bool {
			s := r.snapshot()
			return s.noVideo == 1 && len(s.progress) > 0 && s.progress[len(s.progress)-1] >= at
		}
	}
	testenv.Eventually(t, 30*time.Second, "NoVideo and 1 s of progress", audioAt(time.Second))
	t.Logf("NoVideo and 1 s of progress after %v", time.Since(start).Round(time.Millisecond))

	n := len(r.stateList())
	pub.Stop()
	testenv.Eventually(t, 15*time.Second, "degraded", func() bool { _, d := hasState(r.since(n), SourceDegraded); return d })
	if _, err := procs.Start("gst-launch-1.0", args...); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "ok again", func() bool { _, ok := hasState(r.since(n), SourceOK); return ok })
	before := r.snapshot().progress
	testenv.Eventually(t, 30*time.Second, "1 s more progress", audioAt(before[len(before)-1]+time.Second))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s := r.snapshot()
	checkTiling(t, s.events, nil)
	if delivered, _, _, _ := s.samples(); delivered == 0 || s.noVideo != 1 || len(s.frames) != 0 || s.noAudio != 0 {
		t.Errorf("%d samples, NoVideo %d, %d frames, NoAudio %d", delivered, s.noVideo, len(s.frames), s.noAudio)
	}
	for _, v := range s.violations {
		t.Error(v)
	}
	if st := c.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("states:%s", r.describeStates())
}
