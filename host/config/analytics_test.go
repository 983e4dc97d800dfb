package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseAnalyticsBlocks(t *testing.T) {
	src := `stream "cam1" { source = "test://ball" }
telemetry {
  tolerance = "1m"
  payload_retention = "2h"
  source "polar" {
    secret = "0123456789abcdef"
    clock_offset = "-1.5s"
    stream = "cam1"
  }
  source "chat-bot" { secret = "fedcba9876543210" }
}
analytics {
  au = "au06"
  min_frames = 5
  physiology {
    stale_after = "5s"
    subjects = ["streamer"]
  }
  comodulation {
    a = "physio:streamer"
    b = "au:face1.au12_c"
  }
}
experiment "greeting" {
  arms = ["warm", "neutral"]
  assignment = "schedule"
  schedule = ["warm", "warm", "neutral"]
}
experiment "pace" { arms = ["fast", "slow"] }
enrichment { attempts = 2 }
`
	c, err := Parse([]byte(src), "t.hcl")
	if err != nil {
		t.Fatal(err)
	}
	wantTel := Telemetry{Tolerance: time.Minute, MaxBody: 1 << 20, MaxEvents: 1000, PayloadRetention: 2 * time.Hour,
		PurgeInterval: time.Hour, Sources: []TelemetrySource{
			{Name: "polar", Secret: "0123456789abcdef", ClockOffset: -1500 * time.Millisecond, Stream: "cam1",
				Pos: Pos{File: "t.hcl", Line: 5, Column: 3}},
			{Name: "chat-bot", Secret: "fedcba9876543210", Pos: Pos{File: "t.hcl", Line: 10, Column: 3}},
		}}
	if !reflect.DeepEqual(c.Telemetry, wantTel) {
		t.Errorf("telemetry:\n got %+v\nwant %+v", c.Telemetry, wantTel)
	}
	wantAn := Analytics{AU: "au06", AUPlugin: "au", SemanticPlugin: "semantic", MinFrames: 5,
		Physiology: Physiology{Window: time.Minute, StaleAfter: 5 * time.Second, AbsentAfter: time.Minute,
			MinIntervals: 10, Subjects: []string{"streamer"}},
		CoModulation: &CoModulation{A: "physio:streamer", B: "au:face1.au12_c", Window: 2 * time.Minute, MinSamples: 10}}
	if !reflect.DeepEqual(c.Analytics, wantAn) {
		t.Errorf("analytics:\n got %+v\nwant %+v", c.Analytics, wantAn)
	}
	wantExp := []Experiment{
		{Name: "greeting", Arms: []string{"warm", "neutral"}, Assignment: "schedule",
			Schedule: []string{"warm", "warm", "neutral"}, PriorAlpha: 1, PriorBeta: 1, Pos: Pos{File: "t.hcl", Line: 24, Column: 1}},
		{Name: "pace", Arms: []string{"fast", "slow"}, Assignment: "thompson",
			Schedule: []string{"fast", "slow"}, PriorAlpha: 1, PriorBeta: 1, Pos: Pos{File: "t.hcl", Line: 29, Column: 1}},
	}
	if !reflect.DeepEqual(c.Experiments, wantExp) {
		t.Errorf("experiments:\n got %+v\nwant %+v", c.Experiments, wantExp)
	}
	if e := c.ExperimentByName("pace"); e == nil || e.Name != "pace" || c.ExperimentByName("nope") != nil {
		t.Errorf("ExperimentByName: %+v", e)
	}
	if want := (Enrichment{Attempts: 2, Backoff: 500 * time.Millisecond, Workers: 1}); c.Enrichment != want {
		t.Errorf("enrichment %+v, want %+v", c.Enrichment, want)
	}
}

func TestParseAnalyticsInvalid(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"source without secret", `telemetry {
  source "polar" {}
}`, `t.hcl:2:3: telemetry.source "polar": secret: is required: the HMAC key the source signs with (or set LSIE_TELEMETRY_SECRET_POLAR)`},
		{"short secret never quoted", `telemetry {
  source "polar" { secret = "hunter2" }
}`, `t.hcl:2:20: telemetry.source "polar": secret: must be at least 16 characters`},
		{"unknown stream", `telemetry {
  source "polar" {
    secret = "0123456789abcdef"
    stream = "nope"
  }
}`, `t.hcl:4:5: telemetry.source "polar": stream: "nope" is not a configured stream`},
		{"duplicate source", `telemetry {
  source "a" { secret = "0123456789abcdef" }
  source "a" { secret = "0123456789abcdef" }
}`, `t.hcl:3:3: telemetry.source "a": duplicate source name (first defined at t.hcl:2:3)`},
		{"offset too large", `telemetry {
  source "a" {
    secret = "0123456789abcdef"
    clock_offset = "2h"
  }
}`, `t.hcl:4:5: telemetry.source "a": clock_offset: must be -1h..1h, got 2h0m0s`},
		{"tolerance", `telemetry { tolerance = "2h" }`, `t.hcl:1:13: telemetry.tolerance: must be 1s..1h, got 2h0m0s`},
		{"bad au", `analytics { au = "smile" }`, `t.hcl:1:13: analytics.au: "smile" is not an action unit field of the au plugin (au01..au45, e.g. "au12")`},
		{"absent before stale", `analytics {
  physiology {
    stale_after = "30s"
    absent_after = "20s"
  }
}`, `t.hcl:4:5: analytics.physiology.absent_after: must be more than stale_after (30s), got 20s`},
		{"bad series", `analytics {
  comodulation {
    a = "physio:x"
    b = "heart"
  }
}`, `t.hcl:4:5: analytics.comodulation.b: "heart" is not a series: use "physio:SUBJECT" or "au:faceN.auXX"`},
		{"one arm", `experiment "e" { arms = ["a"] }`, `t.hcl:1:18: experiment "e": arms: must list 2..64 arms, got 1`},
		{"missing arms", `experiment "e" {}`, `t.hcl:1:1: experiment "e": missing required attribute "arms"`},
		{"duplicate arm", `experiment "e" { arms = ["a", "a"] }`, `t.hcl:1:31: experiment "e": arms[1]: duplicate arm "a"`},
		{"bad assignment", `experiment "e" {
  arms = ["a", "b"]
  assignment = "random"
}`, `t.hcl:3:3: experiment "e": assignment: must be "thompson" or "schedule", got "random"`},
		{"schedule names unknown arm", `experiment "e" {
  arms = ["a", "b"]
  assignment = "schedule"
  schedule = ["a", "c"]
}`, `t.hcl:4:20: experiment "e": schedule[1]: "c" is not one of the arms a, b`},
		{"schedule without schedule assignment", `experiment "e" {
  arms = ["a", "b"]
  schedule = ["a"]
}`, `t.hcl:3:3: experiment "e": schedule: is only used with assignment = "schedule"`},
		{"unknown attribute in experiment", `experiment "e" {
  arms = ["a", "b"]
  arm = "a"
}`, `t.hcl:3:3: experiment "e": unknown attribute "arm" (did you mean "arms"?)`},
		{"enrichment attempts", `enrichment { attempts = 0 }`, `t.hcl:1:14: enrichment.attempts: must be 1..20, got 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "t.hcl")
			var ds Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("error %v (%T), want Diagnostics", err, err)
			}
			if got := ds[0].String(); got != tc.want {
				t.Errorf("first diagnostic:\n got %s\nwant %s\nall: %v", got, tc.want, err)
			}
		})
	}
}

func TestTelemetrySecretAndPostgresFromEnvironment(t *testing.T) {
	src := `store { sqlite = "x.db" }
telemetry {
  source "chat-bot" {}
}`
	env := map[string]string{
		"LSIE_TELEMETRY_SECRET_CHAT_BOT": "from-the-environment",
		"LSIE_STORE_POSTGRES":            "postgres://lsie:pw@db/lsie",
	}
	c, err := parse([]byte(src), "t.hcl", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Telemetry.Sources[0].Secret; got != "from-the-environment" {
		t.Errorf("secret %q", got)
	}
	if c.Store.Postgres != env["LSIE_STORE_POSTGRES"] || c.Store.SQLite != "" {
		t.Errorf("store %+v: the environment's postgres should replace the file's sqlite", c.Store)
	}
}
